"""What the alert engine remembers, and how that survives a restart.

``EngineState`` holds the records (by group), the group timers, the silences and the
queued events, numbers every change so ``delta`` can hand the outbox only what changed,
and converts the lot to plain dicts and back. ``AlertEngine`` (``alerts.engine``) adds the
lifecycle on top; keeping the two apart means the rules never have to read around the
bookkeeping, and the save format lives in one place.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

from remi_ops.alerts.dispatch import GroupState
from remi_ops.alerts.model import AlertKey, EngineDelta, time_text
from remi_ops.alerts.rules import DEFAULT_RULES, AlertRecord, KindRule, alert_id, rule_for
from remi_ops.alerts.silences import Silences
from remi_ops.config import AlertSettings
from remi_ops.domain import Severity

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound="EngineState")
STATE_VERSION = 1
ALERT_PREFIX, GROUP_PREFIX = "alert:", "group:"


def locked(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Serialise public calls: checks may observe from worker threads while a timer flushes."""
    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            return method(self, *args, **kwargs)
    functools.update_wrapper(wrapper, method)
    return wrapper


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """A one-shot fact waiting for the next flush."""

    key: AlertKey
    at: datetime
    severity: Severity
    summary: str
    details: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"key": str(self.key), "at": time_text(self.at),
                "severity": self.severity.value, "summary": self.summary,
                "details": dict(self.details)}

    @classmethod
    def from_dict(cls, e: Mapping[str, Any]) -> QueuedEvent:
        return cls(AlertKey.parse(e["key"]), datetime.fromisoformat(e["at"]),
                   Severity(e["severity"]), e["summary"], e["details"])


class EngineState:
    """Records, groups, silences and events, with change numbers for incremental saves."""

    def __init__(self, settings: AlertSettings, *, rules: Mapping[str, KindRule] | None = None,
                 new_id: Callable[[], str] | None = None) -> None:
        self.settings = settings
        self._rules = {**DEFAULT_RULES, **(rules or {})}
        self._new_id = new_id or (lambda: uuid.uuid4().hex)
        self._categories = sorted({r.category for r in self._rules.values()},
                                  key=lambda c: (c != "health", c))
        self._records: dict[str, dict[str, AlertRecord]] = {}  # group key → alert key → record
        self._groups: dict[str, GroupState] = {}
        self._silences = Silences(self._new_id)
        self._events: list[QueuedEvent] = []
        self._dirty: set[str] = set()  # groups to look at in the next flush
        self._due: dict[str, datetime] = {}  # group → when its timers next need a look
        #: alerts the watcher is acting on (restarting for): posted at once, no group wait
        self._acting: set[str] = set()
        self._changes: dict[str, int] = {}  # record key → change number, for delta()
        self._seq = 0
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ bookkeeping

    def _group_key(self, target: str, category: str) -> str:
        return f"{target}:{category}"

    def _record(self, key: AlertKey, *, create: bool) -> AlertRecord | None:
        group_key = self._group_key(key.target, rule_for(self._rules, key.kind).category)
        records = self._records.setdefault(group_key, {})
        record = records.get(str(key))
        if record is None and create:
            record = records[str(key)] = AlertRecord(key=key, id=alert_id(key))
        return record

    def _target_records(self, target: str) -> list[AlertRecord]:
        return [r for c in self._categories
                for r in self._records.get(self._group_key(target, c), {}).values()]

    def _open_group(self, key: AlertKey, now: datetime, *, revisit: bool = True) -> GroupState:
        group_key = self._group_key(key.target, rule_for(self._rules, key.kind).category)
        group = self._groups.get(group_key)
        if group is None:
            group = self._groups[group_key] = GroupState(group_key, key.target, created_at=now)
            self._changes[GROUP_PREFIX + group_key] = self._next()
        if revisit:
            self._dirty.add(group_key)
        return group

    def _touch(self, record: AlertRecord) -> None:
        self._changes[str(record.key)] = self._next()

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    # ------------------------------------------------------------------ persistence

    def _meta(self) -> dict[str, Any]:
        return {"version": STATE_VERSION,
                "silences": self._silences.to_list(),
                "events": [e.to_dict() for e in self._events]}

    @locked
    def to_dict(self) -> dict[str, Any]:
        """The whole state: ``{"meta": …, "records": {key: data}}``."""
        records: dict[str, Any] = {GROUP_PREFIX + k: g.to_dict()
                                   for k, g in self._groups.items()}
        for group in self._records.values():
            records.update({ALERT_PREFIX + k: r.to_dict() for k, r in group.items()})
        return {"meta": self._meta(), "records": records}

    @locked
    def delta(self) -> EngineDelta:
        """What changed since the last ``mark_saved``; pass it to ``Outbox.enqueue``."""
        upserts, deletes = [], []
        for key in self._changes:
            if key.startswith(GROUP_PREFIX):
                group = self._groups.get(key.removeprefix(GROUP_PREFIX))
                if group is None:
                    deletes.append(key)
                else:
                    upserts.append((key, group.target, group.to_dict()))
                continue
            alert_key = AlertKey.parse(key)
            record = self._records.get(self._group_key(
                alert_key.target, rule_for(self._rules, alert_key.kind).category), {}).get(key)
            if record is None:
                deletes.append(ALERT_PREFIX + key)
            else:
                upserts.append((ALERT_PREFIX + key, record.key.target, record.to_dict()))
        return EngineDelta(meta={**self._meta(), "saved_seq": self._seq},
                           upserts=tuple(upserts), deletes=tuple(deletes))

    @locked
    def mark_saved(self, delta: EngineDelta) -> None:
        """Forget changes that ``delta`` saved (and that did not change again since)."""
        saved_seq = int(delta.meta["saved_seq"])
        self._changes = {k: n for k, n in self._changes.items() if n > saved_seq}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], settings: AlertSettings, *,
                  rules: Mapping[str, KindRule] | None = None,
                  new_id: Callable[[], str] | None = None) -> Self:
        """Rebuild an engine from ``to_dict`` output or ``Store.load_alert_state``."""
        engine = cls(settings, rules=rules, new_id=new_id)
        meta = data["meta"]
        if meta.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported alert state version {meta.get('version')!r}")
        engine._silences.load(meta["silences"])
        engine._events = [QueuedEvent.from_dict(e) for e in meta["events"]]
        for key, item in data["records"].items():
            if key.startswith(GROUP_PREFIX):
                engine._groups[key.removeprefix(GROUP_PREFIX)] = GroupState.from_dict(item)
            else:
                record = AlertRecord.from_dict(item)
                group_key = engine._group_key(
                    record.key.target, rule_for(engine._rules, record.key.kind).category)
                engine._records.setdefault(group_key, {})[str(record.key)] = record
        engine._dirty = set(engine._groups) | set(engine._records)
        return engine
