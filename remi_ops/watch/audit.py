"""Audit first: a person's action is in the audit log before it is carried out.

``audited`` writes a "requested" row, runs the verb, then completes that same row with
how it went (done or failed, a one-line result, how long it took). A crash, or a Discord
reply that fails after the action, cannot lose who asked for what: the row was there
first. One row per action, two states (requested → done/failed); refusals are rows of
their own in state "refused" (``refused``).

Actions from the command line are also announced in #quick-tasks: the announcement is an
``operator_action`` event written to the event journal in the transaction that completes
the row, so the outbox delivers it exactly once even if the process dies right after.
(Bubabot posts its own line for Discord actions; a restart and a scan test announce
themselves with their own events.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from remi_ops.alerts.model import AlertLine, Silence
from remi_ops.alerts.testalert import DeliveryReport
from remi_ops.alerts.text import (
    control_text,
    maintenance_text,
    resolution_text,
    restart_summary,
    scan_summary,
    silence_text,
)
from remi_ops.domain import EventKind, RestartReport, ScanResult, Severity
from remi_ops.store.event_journal_rows import JournalEntry
from remi_ops.watch.results import ControlOutcome, ControlResult, MaintenanceResult, Resolution

if TYPE_CHECKING:
    from remi_ops.watch.watcher import Watcher

T = TypeVar("T")

#: the verbs that change something, and so are audited (health only looks)
AUDITED = frozenset({"restart", "stop", "start", "scan_test", "maintenance", "end_maintenance",
                     "silence", "ack", "resolve", "test_alert"})
#: what a command-line action is announced with (restart, scan test and the test alert
#: have their own)
ANNOUNCED = AUDITED - {"restart", "scan_test", "test_alert"}


async def audited(watcher: Watcher, who: str, action: str, target: str | None,  # noqa: PLR0917 - the audit row's columns
                  arguments: Mapping[str, Any], run: Callable[[], Awaitable[T]], *,
                  request_id: str = "", announce: bool = False,
                  on_opened: Callable[[int], None] | None = None) -> T:
    """Run ``run`` between the "requested" row and its completion; ``announce`` also puts
    the action in #quick-tasks (command-line actions); ``on_opened`` learns the row's id
    (on the caller's task). Exceptions propagate, audited."""
    name = watcher.watch(target).name
    redact = watcher.watch(name).redact
    plain = {k: redact(v) if isinstance(v, str) else v for k, v in arguments.items()}
    store = watcher.store
    audit_id = await asyncio.to_thread(store.audit_requested, who, action, name,
                                       arguments=plain, request_id=request_id)
    if on_opened is not None:
        on_opened(audit_id)
    started = time.monotonic()
    try:
        value = await run()
    except Exception as exc:
        result, ok = redact(f"{type(exc).__name__}: {exc}")[:500], False
        await _complete(watcher, audit_id, who, action, target=name, result=result, ok=ok,
                        started=started, announce=announce)
        raise
    result, ok = outcome_of(value)
    await _complete(watcher, audit_id, who, action, target=name, result=redact(result)[:500],
                    ok=ok,
                    started=started, announce=announce)
    return value


async def _complete(watcher: Watcher, audit_id: int, who: str, action: str, *,
                    target: str, result: str, ok: bool, started: float,
                    announce: bool) -> None:
    notice = []
    if announce and action in ANNOUNCED:
        notice = [JournalEntry(target, watcher.clock.now(), str(EventKind.OPERATOR_ACTION),
                               (Severity.INFO if ok else Severity.WARNING).value,
                               f"{who}: {action} of {target}: {result}",
                               {"who": who, "action": action, "ok": ok})]
    await asyncio.to_thread(watcher.store.audit_completed, audit_id, result=result, ok=ok,
                            duration_s=time.monotonic() - started, announce=notice)


async def refused(watcher: Watcher, who: str, action: str, target: str, why: str, *,
                  arguments: Mapping[str, Any] | None = None, request_id: str = "") -> None:
    """A refusal is audited too (state "refused"), with the reason the person was given."""
    await asyncio.to_thread(watcher.store.audit, who, action, target,
                            arguments=dict(arguments or {}), result=f"refused: {why}"[:500],
                            ok=False, duration_s=0.0, state="refused", request_id=request_id)


def outcome_of(value: object) -> tuple[str, bool]:
    """The audit row's result line for a verb's value, and whether it worked."""
    if isinstance(value, RestartReport):
        return restart_summary(value), value.ok
    if isinstance(value, ControlResult):
        return control_text(value), value.outcome is not ControlOutcome.START_FAILED
    if isinstance(value, MaintenanceResult):
        return maintenance_text(value), True
    if isinstance(value, ScanResult):
        return scan_summary(value, "operator"), value.ok
    if isinstance(value, Silence):
        return silence_text(value), True
    if isinstance(value, Resolution):
        return resolution_text(value), True
    if isinstance(value, DeliveryReport):
        return value.summary(), value.ok
    if isinstance(value, list) and all(isinstance(v, AlertLine) for v in value):
        return f"{len(value)} alert(s) acknowledged", True
    return str(value)[:500], True
