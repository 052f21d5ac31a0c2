"""Frozen values that flow between the engine's steps (observe → assess → decide → act).

They carry facts, never presentation: colours, emoji and truncation live in renderers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Self

from remi_ops.logs.redacted import NO_TEXT, Redacted

EMPTY: Mapping[str, Any] = MappingProxyType({})


class _Ordered(StrEnum):
    """A vocabulary whose members are declared mildest first and compare in that order."""

    @property
    def rank(self) -> int:
        """Its place in the declaration, mildest first."""
        return type(self)._member_names_.index(self._name_)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.rank >= other.rank

    @classmethod
    def worst(cls, members: Iterable[Self], default: Self) -> Self:
        return max(members, default=default)


class Status(_Ordered):
    """Overall health of a target; ``max`` of several is the worst."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    DOWN = "down"


class Severity(_Ordered):
    """How loudly a finding or alert should speak. ``PAGE`` may mention the on-call role."""

    INFO = "info"
    WARNING = "warning"
    PAGE = "page"


class Check(StrEnum):
    """What a health finding is about (``Finding.check``)."""

    PROCESS = "process"  # not running, stopped (SIGSTOP), zombie
    EVENT_LOOP = "event_loop"  # blocked or silent loop: the incident
    CONFIG = "config"  # a fatal configuration error a restart cannot fix
    DUPLICATES = "duplicates"  # more than one copy running
    NEW_ERROR = "new_error"  # an error group first seen in this check
    ERROR_BURST = "error_burst"  # many errors since the last check
    RATE_LIMIT = "rate_limit"  # many 429s since the last check
    CPU = "cpu"
    RSS = "rss"
    SCAN_TEST = "scan_test"  # the last /scan smoke test did not pass
    WATCHER = "watcher"  # nobody supervises the target (no watcher, or a stale one)
    LATENCY = "latency"  # "Can't keep up": the gateway is behind (network), the loop runs
    RECENT_ERRORS = "recent_errors"  # an error group seen within health.recent_errors_s
    ALERT_FIRING = "alert_firing"  # an alert the check cannot re-assess is still firing


class EventKind(StrEnum):
    """Things that happened to a target (``Event.kind``)."""

    STATE_CHANGED = "state_changed"  # history only
    ESCALATION = "escalation"  # the policy gave up: a human is needed
    RESTART = "restart"  # a (re)start was carried out, ok or not
    SCAN_TEST = "scan_test"  # a /scan smoke test ran
    DUPLICATE_FOUND = "duplicate_found"
    CODE_CHANGED = "code_changed"  # a fix landed (HEAD moved, watched files changed)
    STOP_FAILED = "stop_failed"
    JOB_ERROR = "job_error"  # a watcher job raised
    HOLD_KEPT = "hold_kept"  # a watcher started with a stop or maintenance in force
    OPERATOR_ACTION = "operator_action"  # a person's stop/start/maintenance… from the CLI
    SWEPT = "swept"  # escaped children of a Remi we started were stopped after it


class AlertKind(StrEnum):
    """Alert conditions a check can find true (the alert engine's ``kind`` label).

    One-shot events are alerts too; their kind is their ``EventKind`` value.
    """

    DOWN = "down"
    HANG = "hang"
    UNHEALTHY = "unhealthy"
    ERROR_GROUP = "error_group"
    SCAN_TEST = "scan_test"
    GAVE_UP = "gave_up"
    FATAL_CONFIG = "fatal_config"
    DUPLICATE = "duplicate"
    WATCHER = "watcher"


class Trigger(StrEnum):
    """Why a (re)start happened (``RestartReport.trigger``, ``Action.trigger``)."""

    START = "start"  # a first start: not a restart, spends no budget
    CRASH = "crash"  # it died; the policy restarts it
    HANG = "hang"  # alive but not working
    OPERATOR = "operator"  # a person asked
    POST_FIX = "post_fix"  # a fix landed
    POLICY_RETRY = "policy_retry"  # the slow retry after giving up
    MAINTENANCE_END = "maintenance_end"  # maintenance ended and Remi was not running
    POLICY = "policy"


class CheckTrigger(StrEnum):
    """What started a check."""

    SCHEDULE = "schedule"
    EXIT = "exit"
    PROBE = "probe"
    OPERATOR = "operator"
    AFTER_RESTART = "after_restart"


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """What makes a process *this* process: a PID alone can be reused by another program."""

    pid: int
    create_time: float
    cmdline: tuple[str, ...]
    cwd: str | None = None
    #: the marker of a process we spawned (``REMI_OPS_SPAWN``); such a process is known
    #: by pid + create time alone, whatever its title or argv becomes
    spawn_id: str = ""


@dataclass(frozen=True, slots=True)
class ProcessSnapshot:
    """One look at a live target process and its tree."""

    identity: ProcessIdentity
    status: str  # psutil status: running, sleeping, stopped, zombie, …
    cpu_percent: float
    rss_bytes: int
    children: tuple[int, ...]
    uptime_s: float


@dataclass(frozen=True, slots=True)
class ExitInfo:
    """How a target process ended."""

    pid: int
    returncode: int | None  # None when we could not learn it (not our child)
    signal: int | None  # the signal that killed it, if any
    at: datetime
    #: False when nobody could tell how it ended (an adopted process that is not our child)
    known: bool = True
    #: why, when the manager was told (Kubernetes: ``OOMKilled``, ``Error``)
    reason: str = ""


class LogKind(StrEnum):
    """Classes of log findings; each has its own policy."""

    CRASH = "crash"  # a traceback / unhandled exception
    ERROR = "error"  # an ERROR record without a traceback
    HANG = "hang"  # heartbeat blocked, stopped responding
    LATENCY = "latency"  # "Can't keep up, … behind": network latency, not a blocked loop
    GATEWAY = "gateway"  # connected, resumed, invalidated, reconnecting
    RATE_LIMIT = "rate_limit"  # 429s
    FATAL_CONFIG = "fatal_config"  # improper token, privileged intents: restarts cannot fix
    TIMEOUT = "timeout"
    INFO = "info"  # anything else worth keeping


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One parsed log record (a line, or a line plus its traceback)."""

    kind: LogKind
    level: str  # DEBUG/INFO/WARNING/ERROR/CRITICAL, or "" when unknown
    message: str
    logger: str = ""
    at: datetime | None = None  # the record's own timestamp when it has one
    traceback: str = ""  # the assembled traceback text, if any
    exc_type: str = ""  # e.g. "NameError" (last exception of a chain)
    fingerprint: str = ""  # error-group key for CRASH/ERROR records
    blocked_s: float | None = None  # for "heartbeat blocked for more than N seconds"
    source: str = ""  # which file it came from: "stdout" / "stderr"


@dataclass(frozen=True, slots=True)
class ErrorGroup:
    """Repeats of one error, counted rather than re-posted."""

    fingerprint: str
    target: str
    title: Redacted  # "NameError: name 'asyncio' is not defined"
    kind: LogKind
    count: int
    first_seen: datetime
    last_seen: datetime
    sample: Redacted  # one example (traceback or line)
    culprit: str = ""  # "scoring_async.py in score_batch_async"
    resolved_at: datetime | None = None  # set by the store when someone resolves the group


class ScanOutcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    NOT_CONFIGURED = "not_configured"


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The result of one out-of-band ``/scan`` smoke test."""

    target: str
    outcome: ScanOutcome
    started_at: datetime
    duration_s: float
    exit_code: int | None = None
    output: Redacted = NO_TEXT  # bounded
    reason: str = ""
    fingerprint: str = ""  # error group of a failure's traceback, if any
    over_budget: bool = False  # passed, but slower than the latency budget
    commit: str = ""  # Remi's git HEAD when known

    @property
    def ok(self) -> bool:
        return self.outcome is ScanOutcome.PASSED


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason a target is not healthy, with the evidence behind it."""

    check: Check
    status: Status
    summary: str
    severity: Severity = Severity.WARNING
    evidence: Redacted = NO_TEXT  # stack dump, log excerpt


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The assessment of one target at one moment."""

    target: str
    status: Status
    checked_at: datetime
    findings: tuple[Finding, ...] = ()
    process: ProcessSnapshot | None = None
    supervisor_state: str = ""
    loop_lag_s: float | None = None  # from the beacon
    beacon_age_s: float | None = None
    gateway: str = ""  # "connected", "resumed", "invalidated", "reconnecting", ""
    new_groups: tuple[str, ...] = ()  # fingerprints first seen in this check
    restarts_recent: int = 0

    @property
    def healthy(self) -> bool:
        return self.status is Status.HEALTHY

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(f.summary for f in self.findings)


@dataclass(frozen=True, slots=True)
class RestartReport:
    """What a restart did, for history and for the person who asked."""

    target: str
    reason: str
    trigger: Trigger
    requested_by: str  # "watchdog" or a person ("discord:1234 (name)")
    ok: bool
    at: datetime
    duration_s: float
    old_pid: int | None = None
    new_pid: int | None = None
    detail: str = ""
    evidence: Redacted = NO_TEXT  # stack dump, last errors, cpu/rss


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to a target; the alert engine and history consume these."""

    target: str
    kind: EventKind
    at: datetime
    severity: Severity = Severity.INFO
    summary: str = ""
    data: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
