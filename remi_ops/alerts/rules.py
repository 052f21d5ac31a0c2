"""Per-kind rules and the lifecycle of a single alert.

Two families of alert kinds behave differently, and mixing them up is what floods chats:

* **level** kinds ("down", "hang", …) describe a state. Every ``observe`` passes all
  conditions currently true for a target; a level alert not mentioned is false. They go
  pending → firing (after ``for_checks`` true checks) → resolved (after being false for
  ``keep_firing_for_s``), and too many flips within ``flap_window_s`` hold them as flapping.
* **occurrence** kinds ("error_group", "job_error") describe things that happened. A
  mention means "it happened again" (count it); silence does not resolve them, only
  ``quiet_s`` without occurrences (Sentry's 24 h regression window) or an explicit
  ``active=False`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from remi_ops.alerts.model import AlertKey, AlertLine, Condition, LineState, parse_time, time_text
from remi_ops.config import AlertSettings
from remi_ops.digests import sha1
from remi_ops.domain import Severity

#: kinds whose firing mutes the listed kinds of the same target (they would only repeat it)
INHIBITORS = frozenset({"down", "hang", "gave_up"})
INHIBITED = frozenset({"error_group", "scan_test", "unhealthy"})
DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class KindRule:
    """How one alert kind is damped and grouped."""

    for_checks: int | None = None  # None: AlertSettings.for_checks
    occurrence: bool = False
    category: str = "health"  # notification group within the target
    quiet_s: float = DAY_S  # occurrence kinds resolve after this long without a repeat


DEFAULT_RULES: Mapping[str, KindRule] = {
    # a dead process or a config restarts cannot fix needs no second opinion
    "down": KindRule(for_checks=1),
    "fatal_config": KindRule(for_checks=1),
    "gave_up": KindRule(for_checks=1),
    "hang": KindRule(),
    "unhealthy": KindRule(),
    "scan_test": KindRule(),
    "duplicate": KindRule(),
    "watcher": KindRule(),
    "error_group": KindRule(for_checks=1, occurrence=True, category="errors"),
    "job_error": KindRule(for_checks=1, occurrence=True, category="errors"),
}


def rule_for(rules: Mapping[str, KindRule], kind: str) -> KindRule:
    return rules.get(kind) or DEFAULT_RULES.get(kind) or KindRule()


def alert_id(key: AlertKey) -> str:
    """Short, stable id of an alert (fits a Discord ``custom_id`` such as ``ack:<id>``)."""
    return sha1(str(key).encode(), usedforsecurity=False).hexdigest()[:12]


class Phase(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(slots=True)
class AlertRecord:
    """The mutable lifecycle of one alert; methods take ``now`` and never touch the world."""

    key: AlertKey
    id: str
    phase: Phase = Phase.INACTIVE
    severity: Severity = Severity.WARNING
    summary: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    true_count: int = 0
    pending_since: datetime | None = None
    started_at: datetime | None = None
    last_true_at: datetime | None = None
    false_since: datetime | None = None
    resolved_at: datetime | None = None
    raw: bool = False
    raw_changed_at: datetime | None = None
    flips: list[datetime] = field(default_factory=list)
    flapping: bool = False
    ack_by: str | None = None
    count: int = 0
    message_key: str | None = None  # the live message this alert is shown in
    shown: LineState | None = None  # its state as that message last showed it

    # ------------------------------------------------------------------ inputs

    def on_true(self, now: datetime, cond: Condition, rule: KindRule, s: AlertSettings) -> bool:
        """The condition holds now; returns True when the alert (re)starts firing."""
        self._set_raw(now, True)
        self.severity, self.summary, self.details = cond.severity, cond.summary, dict(cond.details)
        self.last_true_at = now
        if rule.occurrence:
            self.count = int(cond.details.get("count", self.count + 1))
            return self.phase is not Phase.FIRING and self._fire(now, now, s, flips=False)
        if self.phase is Phase.FIRING:
            self.false_since = None
            return False
        if self.phase is not Phase.PENDING:
            self.phase, self.true_count, self.pending_since = Phase.PENDING, 0, now
        self.true_count += 1
        if self.true_count >= (rule.for_checks or s.for_checks):
            return self._fire(now, self.pending_since or now, s, flips=True)
        return False

    def on_false(self, now: datetime, rule: KindRule, s: AlertSettings) -> None:
        """The condition does not hold now (or, for occurrence kinds, was declared over)."""
        self._set_raw(now, False)
        if self.phase is Phase.PENDING:
            self.phase, self.true_count, self.pending_since = Phase.INACTIVE, 0, None
        elif self.phase is Phase.FIRING:
            self.false_since = self.false_since or now
            if rule.occurrence:
                self._close(now)
            else:
                self.tick(now, rule, s)

    def tick(self, now: datetime, rule: KindRule, s: AlertSettings) -> None:
        """Apply the time-based rules: keep-firing hysteresis, quiet expiry, flap end."""
        if self.phase is not Phase.FIRING:
            return
        if self.flapping:
            if self.raw_changed_at and now - self.raw_changed_at >= _s(s.flap_window_s):
                self.flapping, self.flips = False, []
                if not self.raw:
                    self._close(self.false_since or now)
            return
        if rule.occurrence:
            if self.last_true_at and now - self.last_true_at >= _s(rule.quiet_s):
                self._close(now)
        elif self.false_since and now - self.false_since >= _s(s.keep_firing_for_s):
            self._resolve(now, self.false_since, s)

    def fire_now(self, now: datetime, s: AlertSettings) -> bool:
        """The watcher acted on the condition (restarted for it): a pending alert fires
        without waiting for more checks. True when it started firing."""
        if self.phase is not Phase.PENDING:
            return False
        return self._fire(now, self.pending_since or now, s, flips=True)

    def ack(self, by: str) -> bool:
        if self.phase is not Phase.FIRING or self.ack_by == by:
            return False
        self.ack_by = by
        return True

    # ------------------------------------------------------------------ transitions

    def _fire(self, now: datetime, started: datetime, s: AlertSettings, *, flips: bool) -> bool:
        # still shown as firing (its resolution was never sent): the same episode goes on
        continuing = self.message_key is not None and self.shown in (
            LineState.FIRING, LineState.FLAPPING)
        if not continuing:  # a new episode: new post, fresh acknowledgement
            self.message_key, self.shown, self.ack_by = None, None, None
            self.started_at = started
        self.phase, self.false_since, self.resolved_at = Phase.FIRING, None, None
        self.pending_since, self.true_count = None, 0
        if flips:
            self._flip(now, s)
        return True

    def _resolve(self, now: datetime, at: datetime, s: AlertSettings) -> None:
        if not self._flip(now, s):
            self._close(at)

    def _close(self, at: datetime) -> None:
        self.phase, self.resolved_at, self.true_count = Phase.RESOLVED, at, 0

    def _flip(self, now: datetime, s: AlertSettings) -> bool:
        """Count a firing↔resolved flip; True if the alert has just become flapping."""
        window = _s(s.flap_window_s)
        self.flips = [t for t in self.flips if now - t < window] + [now]
        if len(self.flips) >= s.flap_changes and not self.flapping:
            self.flapping = True
            self.phase, self.false_since, self.resolved_at = Phase.FIRING, None, None
            return True
        return False

    def _set_raw(self, now: datetime, value: bool) -> None:
        if value != self.raw or self.raw_changed_at is None:
            self.raw, self.raw_changed_at = value, now

    # ------------------------------------------------------------------ views

    def line(self) -> AlertLine:
        if self.phase is Phase.FIRING:
            state = LineState.FLAPPING if self.flapping else LineState.FIRING
        else:
            state = LineState.RESOLVED
        return AlertLine(key=self.key, alert_id=self.id, state=state, severity=self.severity,
                         summary=self.summary, started_at=self.started_at,
                         resolved_at=self.resolved_at, count=self.count, ack_by=self.ack_by,
                         details=self.details)

    def due(self, rule: KindRule, s: AlertSettings) -> datetime | None:
        """When ``tick`` (or garbage collection) could next change something."""
        if self.phase is Phase.FIRING and self.flapping and self.raw_changed_at:
            return self.raw_changed_at + _s(s.flap_window_s)
        if self.phase is Phase.FIRING and rule.occurrence and self.last_true_at:
            return self.last_true_at + _s(rule.quiet_s)
        if self.phase is Phase.FIRING and self.false_since:
            return self.false_since + _s(s.keep_firing_for_s)
        if self.phase is Phase.RESOLVED and self.flips:
            return self.flips[-1] + _s(s.flap_window_s)
        return None

    def disposable(self, now: datetime, s: AlertSettings) -> bool:
        """Nothing left to show or remember (flip history is what keeps resolved alerts)."""
        if self.phase in (Phase.PENDING, Phase.FIRING) or self.message_key is not None:
            return False
        return not self.flips or now - self.flips[-1] >= _s(s.flap_window_s)

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        return {"key": str(self.key), "id": self.id, "phase": self.phase.value,
                "severity": self.severity.value, "summary": self.summary,
                "details": self.details, "true_count": self.true_count,
                "pending_since": time_text(self.pending_since),
                "started_at": time_text(self.started_at),
                "last_true_at": time_text(self.last_true_at),
                "false_since": time_text(self.false_since),
                "resolved_at": time_text(self.resolved_at), "raw": self.raw,
                "raw_changed_at": time_text(self.raw_changed_at),
                "flips": [t.isoformat() for t in self.flips], "flapping": self.flapping,
                "ack_by": self.ack_by, "count": self.count, "message_key": self.message_key,
                "shown": self.shown.value if self.shown else None}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AlertRecord:
        return cls(key=AlertKey.parse(d["key"]), id=d["id"], phase=Phase(d["phase"]),
                   severity=Severity(d["severity"]), summary=d["summary"],
                   details=dict(d["details"]), true_count=d["true_count"],
                   pending_since=parse_time(d["pending_since"]),
                   started_at=parse_time(d["started_at"]),
                   last_true_at=parse_time(d["last_true_at"]),
                   false_since=parse_time(d["false_since"]),
                   resolved_at=parse_time(d["resolved_at"]), raw=d["raw"],
                   raw_changed_at=parse_time(d["raw_changed_at"]),
                   flips=[datetime.fromisoformat(t) for t in d["flips"]],
                   flapping=d["flapping"], ack_by=d["ack_by"], count=d["count"],
                   message_key=d["message_key"],
                   shown=LineState(d["shown"]) if d["shown"] else None)


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)
