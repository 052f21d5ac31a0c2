"""The async facade the cogs call. Logic returns plain data; cogs only format it.

Every method runs the blocking engine work (psutil, files, SQLite, subprocesses) in a
worker thread, so Bubabot's event loop never blocks. ``OpsService`` is the contract the
Discord layer is written against; ``WatcherService`` (in ``bubabot.watcher_service``) is the
real one, over the runbook verbs of ``remi_ops.watch.runbook``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bubabot.access import Actor
from remi_ops.alerts.model import AlertLine, Silence
from remi_ops.alerts.testalert import DeliveryReport
from remi_ops.domain import ErrorGroup, HealthReport, RestartReport, ScanResult
from remi_ops.store.records import AuditEntry, HistoryItem
from remi_ops.watch.results import MaintenanceResult, Resolution, RestartTally


@dataclass(frozen=True, slots=True)
class HealthView:
    """What /remi-health shows: the report plus context around it."""

    report: HealthReport
    state_reason: str = ""
    last_scan: ScanResult | None = None
    bubabot_lag_s: float | None = None  # Bubabot's own event-loop lag (current)
    bubabot_max_lag_s: float | None = None
    #: restarts in the crash budget's window, and the crashes among them
    restarts: RestartTally | None = None
    #: when maintenance ends, for the reader's own clock (None: not in maintenance)
    maintenance_until: datetime | None = None


class OpsService(Protocol):
    """Everything the slash commands and buttons can ask of the engine."""

    @property
    def target_names(self) -> Sequence[str]:
        """Configured targets, the default (first) one first."""
        ...

    async def health(self, target: str | None) -> HealthView:
        """Run a check now and return its report."""
        ...

    async def errors(self, target: str | None, since_s: float | None,
                     limit: int = 10) -> list[ErrorGroup]:
        """Error groups seen within ``since_s`` seconds (None: all), newest first."""
        ...

    async def restart(self, target: str | None, actor: Actor, reason: str) -> RestartReport:
        """Stop the whole tree and start again; the scan test follows by itself."""
        ...

    async def scan_test(self, target: str | None, actor: Actor) -> ScanResult:
        """Run the out-of-band /scan smoke test now."""
        ...

    async def history(self, target: str | None, since_s: float) -> list[HistoryItem]:
        """Incidents and restarts within ``since_s`` seconds, newest first."""
        ...

    async def silence(  # noqa: PLR0917 - one parameter per slash-command option
            self, target: str | None, kind: str | None, fingerprint: str | None,
                      duration_s: float, actor: Actor, reason: str) -> Silence:
        """Mute matching alerts for ``duration_s`` (≤ 7 days); it always expires."""
        ...

    async def maintenance(self, target: str | None, duration_s: float, actor: Actor,
                          reason: str) -> MaintenanceResult:
        """Hands off for ``duration_s`` seconds; 0 ends maintenance (``until`` is None)."""
        ...

    async def ack(self, ref: str, actor: Actor) -> list[AlertLine]:
        """Acknowledge an alert by alert id, key or message key; stops repeats.

        Raises ``UnknownAlert`` when nothing firing matches ``ref``."""
        ...

    async def resolve(self, target: str | None, fingerprint: str,
                      actor: Actor) -> Resolution:
        """Mark an error group fixed; if it happens again it is reported as a regression.

        Raises ``UnknownErrorGroup`` when the target has no such group."""
        ...

    async def test_alert(self, target: str | None, actor: Actor) -> DeliveryReport:
        """Send a marked test notification through every sink now; report each sink."""
        ...

    async def audit(  # noqa: PLR0917 - the audit record's columns, in order
            self, actor: Actor, action: str, target: str | None,
                    arguments: Mapping[str, Any], result: str, ok: bool,
                    duration_s: float) -> None:
        """Record an operator action in the store. Bubabot posts the line in #quick-tasks
        itself (``bubabot.interact.Gate.record``), so this must not post one too."""
        ...

    async def audit_log(self, limit: int = 20) -> list[AuditEntry]:
        ...

    def loop_lag(self) -> tuple[float, float]:
        """Bubabot's own event-loop lag: (last, max since start), seconds."""
        ...
