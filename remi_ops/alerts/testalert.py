"""The test alert: "does an alert reach us?" answered per sink, now (Uptime Kuma's Test button).

A clearly marked notification ("TEST — … no action needed") goes straight to every sink of
the process that sends it, not through the alert engine or the outbox: it opens no incident,
counts as nothing firing, pages nobody (severity info), and is not retried later — the person
asking wants to know whether it arrives *now*. Each sink's answer is the report: delivered
(with its message ref) or not (with the reason). A rate limit short enough is waited out
within the deadline, as the outbox would.

Sinks another process delivers (Bubabot's "discord" for a command line acting alone) are
reported as not delivered, saying who would: the test is about this moment.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from remi_ops.alerts.model import Notification, NotificationType
from remi_ops.alerts.outbox import Outbox, Sink, SinkUnavailable
from remi_ops.domain import Severity

#: how long each sink may take, rate limits waited out included
DELIVER_WITHIN_S = 20.0


@dataclass(frozen=True, slots=True)
class SinkDelivery:
    """What one sink did with the test alert."""

    sink: str
    delivered: bool
    ref: str | None = None  # e.g. the Discord message id
    reason: str = ""  # why it was not delivered


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """The test alert and what every sink did with it; ``ok`` when all delivered it."""

    notification_id: str
    target: str
    title: str
    deliveries: tuple[SinkDelivery, ...]

    @property
    def ok(self) -> bool:
        return bool(self.deliveries) and all(d.delivered for d in self.deliveries)

    def summary(self) -> str:
        """One line, for the audit log."""
        failed = [d.sink for d in self.deliveries if not d.delivered]
        if not failed:
            return f"test alert delivered by {', '.join(d.sink for d in self.deliveries)}"
        return f"test alert NOT delivered by {', '.join(failed)}"


def build_test_alert(target: str, who: str, sink_names: Sequence[str],
                     created_at: datetime) -> Notification:
    """The test notification: info, an event of its own (no incident), marked as a test."""
    nid = uuid.uuid4().hex
    origin = f"{who} on {socket.gethostname()}"
    return Notification(
        id=nid, type=NotificationType.EVENT, group_key=f"{target}:test", target=target,
        message_key=f"{target}:test:{nid[:12]}", thread_key=f"{target}:test",
        severity=Severity.INFO,
        title=f"TEST — this is a test alert from {origin}, no action needed",
        lines=(f"Asked for by {who} to check that alerts about {target} arrive.",
               f"Sent through: {', '.join(sink_names) or 'no sink'}."),
        alerts=(), created_at=created_at, details={"test": True, "requested_by": who})


async def send_test_alert(outbox: Outbox, target: str, who: str, *,
                          within_s: float = DELIVER_WITHIN_S) -> DeliveryReport:
    """Send a test alert through every sink of ``outbox`` at once; report each one."""
    names = [s.name for s in outbox.sinks]
    deferred = [name for name in outbox.deferred_sinks if name not in names]
    n = build_test_alert(target, who, names, outbox.clock.now())
    done = await asyncio.gather(*(_try(sink, n, within_s) for sink in outbox.sinks))
    waiting = [SinkDelivery(name, False, reason=f"{name} is delivered by another process "
                                                "(Bubabot), which is not running")
               for name in deferred]
    return DeliveryReport(n.id, target, n.title, (*done, *waiting))


async def _try(sink: Sink, n: Notification, within_s: float) -> SinkDelivery:
    deadline = time.monotonic() + within_s
    while True:
        left = deadline - time.monotonic()
        try:
            ref = await asyncio.wait_for(sink.deliver(n, None), max(left, 0.01))
        except SinkUnavailable as exc:
            wait = exc.retry_after
            if wait is None or wait >= deadline - time.monotonic():
                return SinkDelivery(sink.name, False, reason=str(exc))
            await asyncio.sleep(wait)
            continue
        except TimeoutError:
            return SinkDelivery(sink.name, False, reason=f"no answer within {within_s:.0f}s")
        except Exception as exc:  # any failure is this sink's answer
            return SinkDelivery(sink.name, False, reason=f"{type(exc).__name__}: {exc}")
        return SinkDelivery(sink.name, True, ref=ref)


def report_lines(report: DeliveryReport) -> list[str]:
    """What ``remi-ops test-alert`` prints: one line per sink, then the verdict."""
    lines = [f"test alert {report.notification_id[:12]} for {report.target}:"]
    for d in report.deliveries:
        if d.delivered:
            lines.append(f"  {d.sink}: delivered" + (f" (ref {d.ref})" if d.ref else ""))
        else:
            lines.append(f"  {d.sink}: NOT delivered: {d.reason}")
    failed = sum(not d.delivered for d in report.deliveries)
    lines.append("every sink delivered it" if report.ok
                 else f"{failed} of {len(report.deliveries)} sink(s) did not deliver it")
    return lines
