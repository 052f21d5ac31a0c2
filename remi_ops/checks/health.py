"""Checks → ``HealthReport``: is Remi alive, and is it *working*?

Pure: takes an ``Observation`` (everything the watchdog gathered) and returns a report.
A live PID is not health: the incident was a live process whose event loop was blocked
for 850+ seconds. Loop liveness comes from the beacon (when Remi runs it) and from
discord.py's own "heartbeat blocked" warnings (always).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from remi_ops.checks.codewatch import CodeState
from remi_ops.config import HealthSettings
from remi_ops.domain import (
    Check,
    ErrorGroup,
    Finding,
    HealthReport,
    LogKind,
    LogRecord,
    ProcessIdentity,
    ProcessSnapshot,
    ScanOutcome,
    ScanResult,
    Severity,
    Status,
)
from remi_ops.logs.redact import Redact, Redactor

MB = 1024 * 1024
#: supervisor states in which "not running" is news (not a stop, maintenance or restart)
NOT_RUNNING_STATES = frozenset({"backoff", "gave_up", "unknown"})


class Beacon(Protocol):
    """What the watcher reads from Remi's beacon file (see ``remi_ops.beacon``)."""

    @property
    def pid(self) -> int | None: ...
    @property
    def age_s(self) -> float: ...
    @property
    def blocked_for_s(self) -> float: ...
    @property
    def beat_age_s(self) -> float: ...
    @property
    def interval_s(self) -> float: ...
    @property
    def loop_lag_s(self) -> float: ...
    @property
    def stuck_stack(self) -> str | None: ...


@dataclass(frozen=True)
class Observation:
    """Everything one check saw, gathered off the event loop by the watch (which writes
    nothing while it looks: the record step persists what this carries)."""

    target: str
    at: datetime
    supervisor_state: str
    expected_alive: bool
    process: ProcessSnapshot | None
    duplicates: tuple[ProcessIdentity, ...] = ()
    records: tuple[LogRecord, ...] = ()
    new_groups: tuple[ErrorGroup, ...] = ()  # first seen, or back after resolve / a quiet day
    beacon: Beacon | None = None
    last_scan: ScanResult | None = None
    gateway: str = ""
    restarts_recent: int = 0
    #: for the record step: this check's error occurrences and where the logs were read to
    seen_groups: tuple[ErrorGroup, ...] = ()
    log_positions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: for the decide step: Remi's code now (None when nothing is watched)
    code: CodeState | None = None


@dataclass
class HealthAssessor:
    """Turns observations into reports; remembers only threshold streaks between checks."""

    settings: HealthSettings
    #: the target's redactor: a stuck stack or a fatal traceback is redacted as it is read
    redact: Redact = field(default_factory=Redactor)
    cpu_streak: int = 0
    rss_streak: int = 0

    def reset_streaks(self) -> None:
        """A new process starts with a clean record."""
        self.cpu_streak = self.rss_streak = 0

    def assess(self, obs: Observation) -> HealthReport:
        findings: list[Finding] = []
        if obs.process is None:
            if obs.expected_alive or obs.supervisor_state in NOT_RUNNING_STATES:
                findings.append(Finding(Check.PROCESS, Status.DOWN, "process is not running",
                                        Severity.PAGE))
        else:
            findings += self._process_findings(obs.process)
            findings += self._loop_findings(obs)
        findings += _duplicate_findings(obs.duplicates)
        findings += _log_findings(obs.records, obs.new_groups, self.settings, self.redact)
        findings += _scan_findings(obs.last_scan)
        status = Status.worst((f.status for f in findings), Status.HEALTHY)
        return HealthReport(
            target=obs.target, status=status, checked_at=obs.at, findings=tuple(findings),
            process=obs.process, supervisor_state=obs.supervisor_state,
            loop_lag_s=obs.beacon.loop_lag_s if _beacon_valid(obs) and obs.beacon else None,
            beacon_age_s=obs.beacon.age_s if obs.beacon else None,
            gateway=obs.gateway, new_groups=tuple(g.fingerprint for g in obs.new_groups),
            restarts_recent=obs.restarts_recent)

    def _process_findings(self, snap: ProcessSnapshot) -> list[Finding]:
        found: list[Finding] = []
        if snap.status in ("stopped", "tracing-stop"):
            found.append(Finding(Check.PROCESS, Status.DOWN,
                                 f"process {snap.identity.pid} is stopped (SIGSTOP): frozen",
                                 Severity.PAGE))
        elif snap.status == "zombie":
            found.append(Finding(Check.PROCESS, Status.DOWN, "process is a zombie", Severity.PAGE))
        s = self.settings
        self.cpu_streak = self.cpu_streak + 1 if snap.cpu_percent > s.cpu_percent_max else 0
        self.rss_streak = self.rss_streak + 1 if snap.rss_bytes > s.rss_mb_max * MB else 0
        if self.cpu_streak >= s.sustained_checks:
            found.append(Finding(Check.CPU, Status.DEGRADED,
                                 f"CPU {snap.cpu_percent:.0f}% > {s.cpu_percent_max:.0f}% for "
                                 f"{self.cpu_streak} checks"))
        if self.rss_streak >= s.sustained_checks:
            found.append(Finding(Check.RSS, Status.DEGRADED,
                                 f"memory {snap.rss_bytes / MB:.0f} MB > {s.rss_mb_max:.0f} MB "
                                 f"for {self.rss_streak} checks"))
        return found

    def _loop_findings(self, obs: Observation) -> list[Finding]:
        """Event-loop liveness: the beacon first, discord.py's warnings as the fallback."""
        s = self.settings
        blocked = hang_seconds(obs, s)
        if blocked is None:
            return []
        stack = self.redact(_stuck_stack(obs))
        if blocked >= s.hang_threshold_s:
            return [Finding(Check.EVENT_LOOP, Status.DOWN,
                            f"event loop blocked for {blocked:.0f}s (hang threshold "
                            f"{s.hang_threshold_s:.0f}s)", Severity.PAGE, stack)]
        return [Finding(Check.EVENT_LOOP, Status.DEGRADED, f"event loop blocked for {blocked:.0f}s",
                        Severity.WARNING, stack)]


def hang_seconds(obs: Observation, s: HealthSettings) -> float | None:
    """How long the loop has been blocked, or None when it is beating."""
    candidates: list[float] = []
    if _beacon_valid(obs) and obs.beacon is not None:
        beacon = obs.beacon
        if beacon.age_s > s.beacon_stale_s:
            candidates.append(beacon.age_s)  # not even the writer thread runs: frozen
        elif beacon.blocked_for_s > 0:
            candidates.append(beacon_blocked_s(beacon))
    warned = [r.blocked_s for r in obs.records if r.kind is LogKind.HANG and r.blocked_s]
    if warned:
        candidates.append(max(warned))
    elif any(r.kind is LogKind.HANG for r in obs.records):
        candidates.append(0.0)
    return max(candidates) if candidates else None


def beacon_blocked_s(beacon: Beacon) -> float:
    """How long the loop has been overdue *now*: the writer's figure is up to one write old,
    so once it saw the loop overdue, the age of the last beat (read now) is the better one."""
    if beacon.blocked_for_s <= 0:
        return 0.0
    return max(beacon.blocked_for_s, beacon.beat_age_s - beacon.interval_s)


def _beacon_valid(obs: Observation) -> bool:
    """A beacon from a previous incarnation of the process says nothing about this one."""
    if obs.beacon is None or obs.process is None:
        return False
    return obs.beacon.pid in (None, obs.process.identity.pid)


def _stuck_stack(obs: Observation) -> str:
    if _beacon_valid(obs) and obs.beacon is not None and obs.beacon.stuck_stack:
        return obs.beacon.stuck_stack
    hangs = [r for r in obs.records if r.kind is LogKind.HANG and r.traceback]
    return hangs[-1].traceback if hangs else ""


def _duplicate_findings(dupes: Sequence[ProcessIdentity]) -> list[Finding]:
    if len(dupes) < 2:
        return []
    pids = ", ".join(str(d.pid) for d in dupes)
    return [Finding(Check.DUPLICATES, Status.DEGRADED,
                    f"{len(dupes)} copies of the bot are running (pids {pids})", Severity.PAGE)]


def _log_findings(records: Sequence[LogRecord], new_groups: Sequence[ErrorGroup],
                  s: HealthSettings, redact: Redact) -> list[Finding]:
    found: list[Finding] = []
    fatal = [r for r in records if r.kind is LogKind.FATAL_CONFIG]
    if fatal:
        found.append(Finding(Check.CONFIG, Status.DOWN,
                             f"fatal configuration error: {redact(fatal[-1].message).head(200)} "
                             "(a restart cannot fix this)", Severity.PAGE,
                             redact(fatal[-1].traceback or fatal[-1].message)))
    for group in new_groups:
        found.append(Finding(Check.NEW_ERROR, Status.DEGRADED,
                             f"new error: {group.title} ({group.culprit or 'no stack'})",
                             Severity.WARNING, group.sample))
    errors = [r for r in records if r.kind in (LogKind.CRASH, LogKind.ERROR, LogKind.TIMEOUT)]
    if len(errors) >= s.error_burst:
        found.append(Finding(Check.ERROR_BURST, Status.DEGRADED,
                             f"error burst: {len(errors)} errors since the last check"))
    limited = [r for r in records if r.kind is LogKind.RATE_LIMIT]
    if len(limited) >= s.error_burst:
        found.append(Finding(Check.RATE_LIMIT, Status.DEGRADED,
                             f"{len(limited)} rate-limit warnings since the last check"))
    return found


def _scan_findings(scan: ScanResult | None) -> list[Finding]:
    if scan is None or scan.ok or scan.outcome is ScanOutcome.NOT_CONFIGURED:
        return []
    return [Finding(Check.SCAN_TEST, Status.DEGRADED,
                    f"last /scan test {scan.outcome}: {scan.reason}", Severity.WARNING,
                    scan.output)]
