"""Values of the alert engine: what goes in (conditions), what comes out (notifications).

All of them are frozen and convert to and from plain JSON-able dicts, because they are
persisted (engine state, outbox rows) and must survive a restart of the watcher unchanged.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from remi_ops.domain import EMPTY, Severity

#: the labels an alert has, and that silences may match on
LABELS = ("target", "kind", "fingerprint")
def time_text(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True, slots=True, order=True)
class AlertKey:
    """An alert's identity: identical keys are one alert (Alertmanager's label set)."""

    target: str
    kind: str
    fingerprint: str = ""

    def __str__(self) -> str:
        base = f"{self.target}/{self.kind}"
        return f"{base}/{self.fingerprint}" if self.fingerprint else base

    @classmethod
    def parse(cls, text: str) -> AlertKey:
        parts = text.split("/", 2)
        if len(parts) < 2 or not all(parts[:2]):
            raise ValueError(f"not an alert key: {text!r} (want target/kind[/fingerprint])")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    @property
    def labels(self) -> dict[str, str]:
        return {"target": self.target, "kind": self.kind, "fingerprint": self.fingerprint}


@dataclass(frozen=True, slots=True)
class Condition:
    """One thing a check found to be true (or, with ``active=False``, explicitly false)."""

    key: AlertKey
    severity: Severity = Severity.WARNING
    summary: str = ""
    details: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    active: bool = True


@dataclass(frozen=True, slots=True)
class Silence:
    """Mutes matching alerts until ``ends_at``; it always expires."""

    id: str
    matchers: tuple[tuple[str, str], ...]  # (label, glob)
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, key: AlertKey) -> bool:
        labels = key.labels
        return all(fnmatch.fnmatchcase(labels[label], glob) for label, glob in self.matchers)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "matchers": [list(m) for m in self.matchers],
                "starts_at": time_text(self.starts_at), "ends_at": time_text(self.ends_at),
                "created_by": self.created_by, "comment": self.comment}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Silence:
        return cls(id=data["id"], matchers=tuple((m[0], m[1]) for m in data["matchers"]),
                   starts_at=datetime.fromisoformat(data["starts_at"]),
                   ends_at=datetime.fromisoformat(data["ends_at"]),
                   created_by=data["created_by"], comment=data["comment"])


class NotificationType(StrEnum):
    """Why a notification exists; sinks post on firing/repeat/flapping/event, edit otherwise."""

    FIRING = "firing"
    UPDATE = "update"
    RESOLVED = "resolved"
    REPEAT = "repeat"
    FLAPPING = "flapping"
    EVENT = "event"

    @property
    def edits(self) -> bool:
        """True when this updates an earlier message rather than posting a new one."""
        return self in (NotificationType.UPDATE, NotificationType.RESOLVED)


class LineState(StrEnum):
    FIRING = "firing"
    FLAPPING = "flapping"
    RESOLVED = "resolved"
    EVENT = "event"


@dataclass(frozen=True, slots=True)
class AlertLine:
    """One alert as a notification shows it."""

    key: AlertKey
    alert_id: str
    state: LineState
    severity: Severity
    summary: str
    started_at: datetime | None = None
    resolved_at: datetime | None = None
    count: int = 0
    ack_by: str | None = None
    details: Mapping[str, Any] = field(default_factory=lambda: EMPTY)

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.resolved_at is None:
            return None
        return (self.resolved_at - self.started_at).total_seconds()

    def signature(self) -> tuple[object, ...]:
        """What a reader sees; a change means the message needs an edit."""
        return (self.state, self.severity, self.summary, self.count, self.ack_by)

    def to_dict(self) -> dict[str, Any]:
        return {"key": str(self.key), "alert_id": self.alert_id, "state": self.state.value,
                "severity": self.severity.value, "summary": self.summary,
                "started_at": time_text(self.started_at),
                "resolved_at": time_text(self.resolved_at), "count": self.count,
                "ack_by": self.ack_by, "details": dict(self.details)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertLine:
        return cls(key=AlertKey.parse(data["key"]), alert_id=data["alert_id"],
                   state=LineState(data["state"]), severity=Severity(data["severity"]),
                   summary=data["summary"], started_at=parse_time(data["started_at"]),
                   resolved_at=parse_time(data["resolved_at"]), count=data["count"],
                   ack_by=data["ack_by"], details=data["details"])


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to deliver: a new post, or an edit of ``message_key``'s earlier post."""

    id: str
    type: NotificationType
    group_key: str  # "<target>:health" / "<target>:errors" / "<target>:events"
    target: str
    message_key: str  # the same for a post and every later edit of it
    thread_key: str  # stable per alert group, for sinks that thread or reply
    severity: Severity
    title: str
    lines: tuple[str, ...]
    alerts: tuple[AlertLine, ...]
    created_at: datetime
    downtime_s: float | None = None
    ack_by: str | None = None
    counts: Mapping[str, int] = field(default_factory=lambda: EMPTY)
    details: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    #: the ``message_key`` of the message this one answers (a restart report or scan result
    #: replies to the open incident's alert); persisted with the row, so the thread holds
    #: across a restart of the watcher
    reply_to: str | None = None

    @property
    def keys(self) -> tuple[AlertKey, ...]:
        return tuple(line.key for line in self.alerts)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type.value, "group_key": self.group_key,
                "target": self.target, "message_key": self.message_key,
                "thread_key": self.thread_key, "severity": self.severity.value,
                "title": self.title, "lines": list(self.lines),
                "alerts": [a.to_dict() for a in self.alerts],
                "created_at": time_text(self.created_at), "downtime_s": self.downtime_s,
                "ack_by": self.ack_by, "counts": dict(self.counts), "details": dict(self.details),
                "reply_to": self.reply_to}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notification:
        return cls(id=data["id"], type=NotificationType(data["type"]),
                   group_key=data["group_key"], target=data["target"],
                   message_key=data["message_key"], thread_key=data["thread_key"],
                   severity=Severity(data["severity"]), title=data["title"],
                   lines=tuple(data["lines"]),
                   alerts=tuple(AlertLine.from_dict(a) for a in data["alerts"]),
                   created_at=datetime.fromisoformat(data["created_at"]),
                   downtime_s=data["downtime_s"], ack_by=data["ack_by"],
                   counts=data["counts"], details=data["details"],
                   reply_to=data.get("reply_to"))  # rows written before it existed lack it


@dataclass(frozen=True, slots=True)
class EngineDelta:
    """What changed in the engine since it was last saved: written with the outbox rows."""

    meta: Mapping[str, Any]
    upserts: tuple[tuple[str, str, Mapping[str, Any]], ...]  # (key, target, alert data)
    deletes: tuple[str, ...]
