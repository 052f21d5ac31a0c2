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
from pathlib import Path
from typing import Any

from remi_ops.checks.codewatch import CodeState
from remi_ops.checks.loop import Beacon, Blocked, LoopTracker, beacon_blocked_s, valid_beacon
from remi_ops.checks.stacks import blocking_frame, readable_stack
from remi_ops.checks.standing import Standing
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
from remi_ops.durations import format_duration
from remi_ops.logs.redact import Redact, Redactor
from remi_ops.logs.redacted import NO_TEXT

__all__ = ["Beacon", "HealthAssessor", "Observation", "beacon_blocked_s"]

MB = 1024 * 1024
#: supervisor states in which "not running" is news (not a stop, maintenance or restart)
NOT_RUNNING_STATES = frozenset({"backoff", "gave_up", "unknown"})
STARTING = "starting"
#: log timestamps have whole seconds: a record stamped within this of the start may be its own
STAMP_RESOLUTION_S = 1.0


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
    #: recent error groups and firing alerts from the store (``checks.standing``)
    standing: Standing = field(default_factory=Standing)
    #: "workdir does not exist: <path>" when Remi cannot be started there ("" when fine)
    workdir_problem: str = ""


@dataclass
class HealthAssessor:
    """Turns observations into reports; remembers threshold streaks and a blocked loop
    between checks (``workdir`` tells Remi's frames from libraries' in a stack)."""

    settings: HealthSettings
    workdir: Path | None = None
    #: the target's redactor: a stuck stack or a fatal traceback is redacted as it is read
    redact: Redact = field(default_factory=Redactor)
    cpu_streak: int = 0
    rss_streak: int = 0
    loop: LoopTracker = field(default_factory=LoopTracker)

    def reset_streaks(self) -> None:
        """A new process starts with a clean record."""
        self.cpu_streak = self.rss_streak = 0
        self.loop.forget()

    def assess(self, obs: Observation) -> HealthReport:
        findings: list[Finding] = []
        if obs.process is None:
            findings += _not_running(obs)
        else:
            findings += self._process_findings(obs.process)
            findings += self._loop_findings(obs)
        findings += _duplicate_findings(obs.duplicates)
        findings += _log_findings(obs.records, obs.process, obs.new_groups, self.settings,
                                  self.redact)
        findings += _standing_findings(obs.standing, obs.new_groups, self.settings)
        findings += _scan_findings(obs.last_scan)
        status = Status.worst((f.status for f in findings), Status.HEALTHY)
        beacon = valid_beacon(obs)
        return HealthReport(
            target=obs.target, status=status, checked_at=obs.at, findings=tuple(findings),
            process=obs.process, supervisor_state=obs.supervisor_state,
            loop_lag_s=beacon.loop_lag_s if beacon else None,
            beacon_age_s=obs.beacon.age_s if obs.beacon else None,
            gateway=obs.gateway if _answering(obs.process) else "",
            new_groups=tuple(g.fingerprint for g in obs.new_groups),
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
        """Event-loop liveness (``checks.loop``), named by the call that blocks."""
        s = self.settings
        # an old process's warnings (a log re-read from before a restart) are not this one's
        mine = [r for r in obs.records if written_by(r, obs.process)]
        blocked = self.loop.blocked(obs, mine, s)
        if blocked is None:
            return []
        summary = f"event loop blocked for {blocked.seconds:.0f}s{self._where(blocked)}"
        evidence = (self.redact(readable_stack(blocked.stack, self.workdir)) if blocked.stack
                    else NO_TEXT)
        if blocked.seconds >= s.hang_threshold_s:
            return [Finding(Check.EVENT_LOOP, Status.DOWN,
                            f"{summary} (hang threshold {s.hang_threshold_s:.0f}s)",
                            Severity.PAGE, evidence)]
        return [Finding(Check.EVENT_LOOP, Status.DEGRADED, summary, Severity.WARNING, evidence)]

    def _where(self, blocked: Blocked) -> str:
        frame = blocking_frame(blocked.stack, self.workdir) if blocked.stack else None
        return f" in {frame.where}" if frame else ""


def written_by(record: LogRecord, process: ProcessSnapshot | None) -> bool:
    """Could the current process have written ``record``? A dated record from before it
    started (an old "Improper token" above the restart) could not. Undated ones could."""
    return record.at is None or since_start(record.at, process)


def since_start(at: datetime, process: ProcessSnapshot | None) -> bool:
    """Is ``at`` (a log stamp read as UTC) no earlier than the process's start?

    discord.py stamps local time: ``at`` counts as earlier only when it is earlier read
    either way, so a zone mix-up never hides what this process wrote.
    """
    if process is None:
        return True
    latest = max(at.timestamp(), at.replace(tzinfo=None).astimezone().timestamp())
    return latest >= process.identity.create_time - STAMP_RESOLUTION_S


def _not_running(obs: Observation) -> list[Finding]:
    """Not running is never healthy; it pages only when nobody meant it (a stop, maintenance
    or a restart under way say so at INFO, which raises no alert). A process being started
    has not been seen yet: the exit waiter reports it if it died."""
    said = f"process is not running: {obs.workdir_problem}" if obs.workdir_problem \
        else "process is not running"
    if obs.expected_alive or obs.supervisor_state in NOT_RUNNING_STATES:
        return [Finding(Check.PROCESS, Status.DOWN, said, Severity.PAGE)]
    if obs.supervisor_state == STARTING:
        return []
    return [Finding(Check.PROCESS, Status.DOWN, f"{said} ({obs.supervisor_state})",
                    Severity.INFO)]


def _answering(process: ProcessSnapshot | None) -> bool:
    """Only a live, running process has a gateway connection worth naming."""
    return process is not None and process.status not in ("stopped", "tracing-stop", "zombie")


def _duplicate_findings(dupes: Sequence[ProcessIdentity]) -> list[Finding]:
    if len(dupes) < 2:
        return []
    pids = ", ".join(str(d.pid) for d in dupes)
    return [Finding(Check.DUPLICATES, Status.DEGRADED,
                    f"{len(dupes)} copies of the bot are running (pids {pids})", Severity.PAGE)]


def _log_findings(records: Sequence[LogRecord], process: ProcessSnapshot | None,
                  new_groups: Sequence[ErrorGroup], s: HealthSettings,
                  redact: Redact) -> list[Finding]:
    """What the logs since the last check say (a fatal line from before a restart was
    about the process that is gone: the fix may be in)."""
    found: list[Finding] = []
    fatal = [r for r in records if r.kind is LogKind.FATAL_CONFIG and written_by(r, process)]
    if fatal:
        found.append(Finding(Check.CONFIG, Status.DOWN,
                             f"fatal configuration error: {redact(fatal[-1].message).head(200)} "
                             "(a restart cannot fix this)", Severity.PAGE,
                             redact(fatal[-1].traceback or fatal[-1].message)))
    for group in new_groups:
        if not since_start(group.last_seen, process):
            continue  # the process it happened in is gone (it may be what killed it)
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
    behind = [r.blocked_s or 0.0 for r in records if r.kind is LogKind.LATENCY]
    if behind:
        found.append(Finding(Check.LATENCY, Status.DEGRADED,
                             f"gateway latency: heartbeats acknowledged up to {max(behind):.1f}s "
                             "late (the network, not a blocked loop)", Severity.WARNING))
    return found


def _standing_findings(standing: Standing, new_groups: Sequence[ErrorGroup],
                       s: HealthSettings) -> list[Finding]:
    """Recent errors and firing alerts: a quiet check after an error is not health."""
    found: list[Finding] = []
    new = {g.fingerprint for g in new_groups}  # already named as "new error"
    window = format_duration(s.recent_errors_s)
    for group in standing.recent_groups:
        if group.fingerprint in new:
            continue
        found.append(Finding(Check.RECENT_ERRORS, Status.DEGRADED,
                             f"error in the last {window}: {group.title} "
                             f"({group.culprit or group.kind}) ×{group.count}, "
                             f"last at {group.last_seen:%H:%M:%S} UTC", Severity.WARNING))
    for alert in standing.firing:
        found.append(Finding(Check.ALERT_FIRING, Status.DEGRADED,
                             f"alert still firing: {alert.kind}: {alert.summary}",
                             Severity.WARNING))
    return found


def _scan_findings(scan: ScanResult | None) -> list[Finding]:
    if scan is None or scan.ok or scan.outcome is ScanOutcome.NOT_CONFIGURED:
        return []
    return [Finding(Check.SCAN_TEST, Status.DEGRADED,
                    f"last /scan test {scan.outcome}: {scan.reason}", Severity.WARNING,
                    scan.output)]
