"""``OpsService`` over the real engine: every blocking call runs in a worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from bubabot.access import Actor
from bubabot.looplag import LoopLagMonitor
from bubabot.service import HealthView
from remi_ops.alerts.model import AlertLine, Silence
from remi_ops.domain import CheckTrigger, ErrorGroup, RestartReport, ScanResult
from remi_ops.store.records import AuditEntry, HistoryItem
from remi_ops.watch.watcher import Watcher


class WatcherService:
    """What the cogs call; the engine does the work, off Bubabot's event loop."""

    def __init__(self, lag: LoopLagMonitor, watcher: Watcher | None = None) -> None:
        self.lag = lag
        self._watcher = watcher

    def bind(self, watcher: Watcher) -> None:
        """The bot is built before the engine (the engine's Discord sink needs the bot)."""
        self._watcher = watcher

    @property
    def watcher(self) -> Watcher:
        if self._watcher is None:
            raise RuntimeError("WatcherService used before bind()")
        return self._watcher

    @property
    def target_names(self) -> Sequence[str]:
        return list(self.watcher.watches)

    async def health(self, target: str | None) -> HealthView:
        watch = self.watcher.watch(target)
        report = await asyncio.to_thread(watch.check, CheckTrigger.OPERATOR)
        last, worst = self.lag.reading()
        return HealthView(report, watch.supervisor.reason, watch.last_scan, last, worst)

    async def errors(self, target: str | None, since_s: float | None,
                     limit: int = 10) -> list[ErrorGroup]:
        watch = self.watcher.watch(target)
        since = None if since_s is None else self.watcher.clock.now() - timedelta(
            seconds=since_s)
        return await asyncio.to_thread(self.watcher.store.error_groups, watch.name, since, limit)

    async def restart(self, target: str | None, actor: Actor, reason: str) -> RestartReport:
        watch = self.watcher.watch(target)
        return await asyncio.to_thread(watch.restart, actor.label, reason)

    async def scan_test(self, target: str | None, actor: Actor) -> ScanResult:
        watch = self.watcher.watch(target)
        return await asyncio.to_thread(watch.scan_test, "operator", actor.label)

    async def history(self, target: str | None, since_s: float) -> list[HistoryItem]:
        watch = self.watcher.watch(target)
        since = self.watcher.clock.now() - timedelta(seconds=since_s)
        return await asyncio.to_thread(self.watcher.store.history, since, watch.name)

    async def silence(  # noqa: PLR0917 - one parameter per slash-command option
            self, target: str | None, kind: str | None, fingerprint: str | None,
            duration_s: float, actor: Actor, reason: str) -> Silence:
        matchers = {"target": self.watcher.watch(target).name}
        if kind:
            matchers["kind"] = kind
        if fingerprint:
            matchers["fingerprint"] = fingerprint
        result: Silence = await self.watcher.hub.silence(matchers, duration_s, actor.label,
                                                        reason)
        return result

    async def maintenance(self, target: str | None, duration_s: float, actor: Actor,
                          reason: str) -> str:
        watch = self.watcher.watch(target)
        if duration_s <= 0:
            await asyncio.to_thread(watch.end_maintenance, actor.label)
            return f"Maintenance of {watch.name} ended; supervision is back on."
        until = self.watcher.clock.now() + timedelta(seconds=duration_s)
        await asyncio.to_thread(watch.maintenance, until, actor.label, reason)
        return (f"{watch.name} is in maintenance until <t:{int(until.timestamp())}:t>: "
                "no restarts, no alerts for it until then.")

    async def ack(self, ref: str, actor: Actor) -> list[AlertLine]:
        return await self.watcher.hub.ack(ref, actor.label)

    async def audit(  # noqa: PLR0917 - the audit record's columns, in order
            self, actor: Actor, action: str, target: str | None,
            arguments: Mapping[str, Any], result: str, ok: bool, duration_s: float) -> None:
        await asyncio.to_thread(self.watcher.store.audit, actor.label, action, target or "",
                                arguments=dict(arguments), result=result, ok=ok,
                                duration_s=duration_s)

    async def audit_log(self, limit: int = 20) -> list[AuditEntry]:
        return await asyncio.to_thread(self.watcher.store.audit_log, None, limit)

    def loop_lag(self) -> tuple[float, float]:
        return self.lag.reading()
