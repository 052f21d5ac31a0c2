"""``OpsService`` over the real engine: each method is one runbook verb on the watcher.

The verbs (``remi_ops.watch.runbook``) run the blocking work in worker threads, so
Bubabot's event loop never blocks; this class only turns slash-command options into
their arguments (seconds into windows, the actor into the ``who`` of history).

Audit first: every verb that changes something writes its audit row ("requested")
before it runs and completes it with the engine's result (``remi_ops.watch.audit``), so
a Discord reply that fails afterwards cannot lose it. Bubabot's own record of the action
(``Gate.record`` → ``audit``), which comes after the reply, then completes the rows this
interaction opened with its words instead of adding a second row: the rows are found
through a context variable, which belongs to the interaction's task.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from bubabot.access import Actor
from bubabot.looplag import LoopLagMonitor
from bubabot.metrics import LoopLagCollector
from bubabot.service import HealthView
from remi_ops.alerts.model import AlertLine, Silence
from remi_ops.alerts.testalert import DeliveryReport, send_test_alert
from remi_ops.domain import ErrorGroup, RestartReport, ScanResult
from remi_ops.store.records import AuditEntry, HistoryItem
from remi_ops.watch import runbook
from remi_ops.watch.audit import audited
from remi_ops.watch.results import MaintenanceResult, Resolution
from remi_ops.watch.watcher import Watcher

T = TypeVar("T")
#: audit rows this interaction's verbs opened, for ``audit`` to complete (task-local)
OPENED: contextvars.ContextVar[tuple[int, ...]] = contextvars.ContextVar("opened", default=())


class WatcherService:
    """What the cogs call; the engine does the work, off Bubabot's event loop."""

    def __init__(self, lag: LoopLagMonitor, watcher: Watcher | None = None) -> None:
        self.lag = lag
        self._watcher = watcher

    def bind(self, watcher: Watcher) -> None:
        """The bot is built before the engine (the engine's Discord sink needs the bot)."""
        self._watcher = watcher
        watcher.metrics.register(LoopLagCollector(self.lag))  # on /metrics beside the engine's

    @property
    def watcher(self) -> Watcher:
        if self._watcher is None:
            raise RuntimeError("WatcherService used before bind()")
        return self._watcher

    @property
    def target_names(self) -> Sequence[str]:
        return list(self.watcher.watches)

    def _name(self, target: str | None) -> str:
        """The named target, or the default one (the runbook reads None as "every")."""
        return self.watcher.watch(target).name

    async def health(self, target: str | None) -> HealthView:
        result = await runbook.health(self.watcher, target)
        last, worst = self.lag.reading()
        until = self.watcher.watch(target).supervisor.maintenance_until
        return HealthView(result.report, result.state_reason, result.last_scan, last, worst,
                          restarts=result.restarts, maintenance_until=until)

    async def errors(self, target: str | None, since_s: float | None,
                     limit: int = 10) -> list[ErrorGroup]:
        since = None if since_s is None else timedelta(seconds=since_s)
        return await runbook.errors(self.watcher, self._name(target), since, limit)

    async def _audited(self, actor: Actor, action: str, target: str | None,
                       arguments: Mapping[str, Any], run: Callable[[], Awaitable[T]]) -> T:
        """Audit first; remember the row so Bubabot's record completes it (``audit``)."""
        return await audited(self.watcher, actor.label, action, target, arguments, run,
                             on_opened=_remember)

    async def restart(self, target: str | None, actor: Actor, reason: str) -> RestartReport:
        return await self._audited(actor, "restart", target, {"reason": reason},
                                   lambda: runbook.restart(self.watcher, target, actor.label,
                                                           reason))

    async def scan_test(self, target: str | None, actor: Actor) -> ScanResult:
        return await self._audited(actor, "scan test", target, {},
                                   lambda: runbook.scan_test(self.watcher, target, actor.label))

    async def history(self, target: str | None, since_s: float) -> list[HistoryItem]:
        return await runbook.history(self.watcher, self._name(target),
                                     timedelta(seconds=since_s))

    async def silence(  # noqa: PLR0917 - one parameter per slash-command option
            self, target: str | None, kind: str | None, fingerprint: str | None,
            duration_s: float, actor: Actor, reason: str) -> Silence:
        matchers = {"target": self._name(target)}
        if kind:
            matchers["kind"] = kind
        if fingerprint:
            matchers["fingerprint"] = fingerprint
        return await self._audited(
            actor, "silence", matchers["target"],
            {"matchers": matchers, "duration_s": duration_s, "reason": reason},
            lambda: runbook.silence(self.watcher, matchers, duration_s, actor.label, reason))

    async def maintenance(self, target: str | None, duration_s: float, actor: Actor,
                          reason: str) -> MaintenanceResult:
        if duration_s <= 0:
            return await self._audited(
                actor, "maintenance", target, {"duration_s": 0},
                lambda: runbook.end_maintenance(self.watcher, target, actor.label))
        return await self._audited(
            actor, "maintenance", target, {"duration_s": duration_s, "reason": reason},
            lambda: runbook.maintenance(self.watcher, target, duration_s, actor.label, reason))

    async def ack(self, ref: str, actor: Actor) -> list[AlertLine]:
        return await self._audited(actor, "ack", None, {"ref": ref},
                                   lambda: runbook.ack(self.watcher, ref, actor.label))

    async def resolve(self, target: str | None, fingerprint: str,
                      actor: Actor) -> Resolution:
        return await self._audited(
            actor, "resolve", target, {"fingerprint": fingerprint},
            lambda: runbook.resolve(self.watcher, target, fingerprint, actor.label))

    async def test_alert(self, target: str | None, actor: Actor) -> DeliveryReport:
        name = self._name(target)
        return await self._audited(actor, "test alert", name, {},
                                   lambda: send_test_alert(self.watcher.outbox, name,
                                                           actor.label))

    async def audit(  # noqa: PLR0917 - the audit record's columns, in order
            self, actor: Actor, action: str, target: str | None,
            arguments: Mapping[str, Any], result: str, ok: bool, duration_s: float) -> None:
        """Complete the rows this interaction's verbs opened (audit first); a refusal, or a
        record with no verb behind it, is a row of its own."""
        opened, store = OPENED.get(), self.watcher.store
        OPENED.set(())
        if opened:
            await asyncio.to_thread(store.audit_annotate, opened, arguments=arguments,
                                    result=result)
            return
        refused = result.startswith("refused")
        await asyncio.to_thread(store.audit, actor.label, action, target or "",
                                arguments=dict(arguments), result=result, ok=ok,
                                duration_s=duration_s,
                                state="refused" if refused else ("done" if ok else "failed"))

    async def audit_log(self, limit: int = 20) -> list[AuditEntry]:
        return await asyncio.to_thread(self.watcher.store.audit_log, None, limit)

    def loop_lag(self) -> tuple[float, float]:
        return self.lag.reading()



def _remember(audit_id: int) -> None:
    OPENED.set((*OPENED.get(), audit_id))
