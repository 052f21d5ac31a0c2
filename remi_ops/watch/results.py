"""What the runbook verbs return: frozen facts, never sentences or markup.

Bubabot renders them as embeds, ``remi_ops.alerts.text`` as plain lines for the command
line; the spool carries them between a running watcher and the CLI as JSON
(``remi_ops.alerts.hub.jsonable`` out, ``remi_ops.watch.wire.decode`` back in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from remi_ops.alerts.model import AlertLine, Silence
from remi_ops.domain import ErrorGroup, HealthReport, ScanResult


@dataclass(frozen=True, slots=True)
class RestartTally:
    """Restarts within the crash budget's window: all of them, and the crashes among them
    (only those spend the budget; a person's, a deploy's or maintenance's end do not)."""

    total: int = 0
    crashes: int = 0
    window_s: float = 0.0


@dataclass(frozen=True, slots=True)
class HealthResult:
    """A check run now, with what a person needs around it."""

    report: HealthReport
    state_reason: str = ""  # why the supervisor is in its state ("adopted running process 42")
    last_scan: ScanResult | None = None
    restarts: RestartTally = RestartTally()


class ControlOutcome(StrEnum):
    """What ``start`` or ``stop`` actually did."""

    STARTED = "started"
    ALREADY_RUNNING = "already_running"
    START_FAILED = "start_failed"
    STOPPED = "stopped"
    WAS_NOT_RUNNING = "was_not_running"


@dataclass(frozen=True, slots=True)
class ControlResult:
    """The answer to ``start`` / ``stop``: what was done and where the supervisor is now."""

    target: str
    outcome: ControlOutcome
    state: str  # the supervisor's state afterwards ("stopped", "starting", "backoff", …)
    reason: str  # the supervisor's reason for it
    pids: tuple[int, ...] = ()  # start: the running pid; stop: the pid that was stopped
    by: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is not ControlOutcome.START_FAILED


@dataclass(frozen=True, slots=True)
class MaintenanceResult:
    """Maintenance started (``until`` set) or ended (``until`` None)."""

    target: str
    until: datetime | None
    state: str
    reason: str
    by: str = ""
    #: False when "end maintenance" found none in force (nothing changed)
    was_on: bool = True


@dataclass(frozen=True, slots=True)
class Resolution:
    """An error group marked fixed; its next occurrence is reported as a regression."""

    group: ErrorGroup
    by: str


@dataclass(frozen=True, slots=True)
class AlertsView:
    """What is firing and what is silenced right now."""

    firing: tuple[AlertLine, ...]
    silences: tuple[Silence, ...]
