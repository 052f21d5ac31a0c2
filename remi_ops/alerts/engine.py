"""The alert engine: Alertmanager's lifecycle, pure, with state that survives restarts.

Checks call ``observe`` with everything currently true for a target and ``event`` for
one-shot facts; ``flush(now)`` returns the notifications due. Nothing here does I/O or
reads a clock, so every rule is tested by moving a ``FakeClock``. The state converts to
plain dicts (``to_dict``/``from_dict``, or the incremental ``delta``) and is saved in the
same transaction as the outbox rows, so after a watcher restart nothing already announced
is announced again and the repeat timers carry on where they were.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from remi_ops.alerts.dispatch import FlushContext, GroupState, build, flush_group
from remi_ops.alerts.model import (
    LABELS,
    AlertKey,
    AlertLine,
    Condition,
    EngineDelta,
    LineState,
    Notification,
    NotificationType,
    Silence,
    time_text,
)
from remi_ops.alerts.rules import (
    DEFAULT_RULES,
    INHIBITED,
    INHIBITORS,
    AlertRecord,
    KindRule,
    Phase,
    alert_id,
    rule_for,
)
from remi_ops.config import AlertSettings
from remi_ops.domain import EMPTY, Severity

P = ParamSpec("P")
R = TypeVar("R")
STATE_VERSION = 1
_ALERT, _GROUP = "alert:", "group:"
_SILENCE_KEEP = timedelta(days=1)  # expired silences stay listable this long


def _locked(method: Callable[Concatenate[AlertEngine, P], R]) -> Callable[
        Concatenate[AlertEngine, P], R]:
    """Serialise public calls: checks may observe from worker threads while a timer flushes."""
    def wrapper(self: AlertEngine, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            return method(self, *args, **kwargs)
    functools.update_wrapper(wrapper, method)
    return wrapper


@dataclass(frozen=True, slots=True)
class _Event:
    key: AlertKey
    at: datetime
    severity: Severity
    summary: str
    details: Mapping[str, Any]


class AlertEngine:
    """Alert lifecycle, grouping, inhibition, silences, acknowledgements and flapping."""

    def __init__(self, settings: AlertSettings, *, rules: Mapping[str, KindRule] | None = None,
                 new_id: Callable[[], str] | None = None) -> None:
        self.settings = settings
        self._rules = {**DEFAULT_RULES, **(rules or {})}
        self._new_id = new_id or (lambda: uuid.uuid4().hex)
        self._categories = sorted({r.category for r in self._rules.values()},
                                  key=lambda c: (c != "health", c))
        self._records: dict[str, dict[str, AlertRecord]] = {}  # group key → alert key → record
        self._groups: dict[str, GroupState] = {}
        self._silences: dict[str, Silence] = {}
        self._events: list[_Event] = []
        self._dirty: set[str] = set()  # groups to look at in the next flush
        self._due: dict[str, datetime] = {}  # group → when its timers next need a look
        self._changes: dict[str, int] = {}  # record key → change number, for delta()
        self._seq = 0
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ inputs

    @_locked
    def observe(self, now: datetime, target: str, conditions: Iterable[Condition]) -> None:
        """One check's verdict: every condition currently true for ``target``.

        Level alerts of ``target`` that are not passed as active are false now. Occurrence
        alerts (error groups) passed as active happened again; absent ones are left alone.
        """
        mentioned: set[AlertKey] = set()
        for cond in conditions:
            if cond.key.target != target:
                raise ValueError(f"condition {cond.key} does not belong to target {target!r}")
            mentioned.add(cond.key)
            rule = rule_for(self._rules, cond.key.kind)
            record = self._record(cond.key, create=cond.active)
            if record is None:
                continue
            if cond.active:
                if record.on_true(now, cond, rule, self.settings):
                    self._open_group(cond.key, now)
            else:
                record.on_false(now, rule, self.settings)
            self._touch(record)
        for record in self._target_records(target):
            rule = rule_for(self._rules, record.key.kind)
            if rule.occurrence or record.key in mentioned:
                continue
            if record.raw or record.phase in (Phase.PENDING, Phase.FIRING):
                record.on_false(now, rule, self.settings)
                self._touch(record)
        self._dirty.update(self._group_key(target, c) for c in self._categories)

    @_locked
    def event(self, now: datetime, key: AlertKey, severity: Severity, summary: str,
              details: Mapping[str, Any] | None = None) -> None:
        """A one-shot fact (escalation, restart report, scan result): sent at the next flush.

        No pending and no group wait, but silences apply, and one flush sends one message
        per target however many events arrived.
        """
        self._events.append(_Event(key, now, severity, summary, dict(details or EMPTY)))

    @_locked
    def ack(self, now: datetime, ref: str | AlertKey, by: str) -> list[AlertKey]:
        """Acknowledge by alert id, alert key or message key; stops repeats, shows in edits."""
        del now  # acknowledgements do not expire; the argument keeps the API uniform
        acked = []
        for group_key, records in self._records.items():
            for record in records.values():
                if ref not in (record.key, record.id, str(record.key), record.message_key):
                    continue
                if record.ack(by):
                    self._touch(record)
                    self._dirty.add(group_key)
                if record.phase is Phase.FIRING and record.ack_by == by:
                    acked.append(record.key)
        return sorted(acked)

    # ------------------------------------------------------------------ silences

    @_locked
    def silence(self, now: datetime, matchers: Mapping[str, str], duration_s: float,
                created_by: str, comment: str) -> Silence:
        """Mute matching alerts (globs on target/kind/fingerprint) for ``duration_s``."""
        if not matchers:
            raise ValueError("a silence needs at least one matcher")
        unknown = sorted(set(matchers) - set(LABELS))
        if unknown:
            raise ValueError(f"unknown matcher labels {unknown}; use {', '.join(LABELS)}")
        if not 0 < duration_s <= self.settings.silence_max_s:
            raise ValueError(f"silence duration must be within (0, "
                             f"{self.settings.silence_max_s:g}] seconds, got {duration_s:g}")
        if not created_by.strip():
            raise ValueError("a silence needs created_by")
        silence = Silence(id=self._new_id(), matchers=tuple(sorted(matchers.items())),
                          starts_at=now, ends_at=now + timedelta(seconds=duration_s),
                          created_by=created_by, comment=comment)
        self._silences[silence.id] = silence
        self._dirty.update(self._groups)
        return silence

    @_locked
    def expire_silence(self, now: datetime, silence_id: str) -> Silence:
        """End a silence now (``KeyError`` if unknown); muted alerts become notifiable."""
        silence = self._silences[silence_id]
        silence = replace(silence, ends_at=min(silence.ends_at, now))
        self._silences[silence_id] = silence
        self._dirty.update(self._groups)
        return silence

    @_locked
    def silences(self, now: datetime) -> list[Silence]:
        """Silences in force at ``now``, soonest to end first."""
        return sorted((s for s in self._silences.values() if s.active(now)),
                      key=lambda s: s.ends_at)

    @_locked
    def alerts(self, target: str | None = None) -> list[AlertLine]:
        """Firing alerts (flapping included), for status commands."""
        return sorted((r.line() for records in self._records.values()
                       for r in records.values() if r.phase is Phase.FIRING
                       and (target is None or r.key.target == target)),
                      key=lambda line: str(line.key))

    # ------------------------------------------------------------------ flush

    @_locked
    def next_due(self, now: datetime) -> datetime | None:
        """When ``flush`` next has work (group wait ending, a retry, a resolution timer).

        Checks run every minute but group wait is 30 s: a timer must flush in between.
        """
        if self._dirty or self._events:
            return now
        return min(self._due.values(), default=None)

    @_locked
    def flush(self, now: datetime) -> list[Notification]:
        """Everything due now. Call after each check and on a timer (timers also resolve)."""
        groups = self._tick(now)
        inhibiting: dict[str, bool] = {}  # per target; phases do not change past _tick
        ctx = FlushContext(now=now, settings=self.settings, new_id=self._new_id,
                           muted=lambda r: self._muted(r, now, inhibiting),
                           unmute_at=lambda r: self._unmute_at(r, now))
        out: list[Notification] = []
        for group_key in groups:
            out += self._flush_group(group_key, ctx)
        out += self._flush_events(ctx)
        self._silences = {k: s for k, s in self._silences.items()
                          if now - s.ends_at < _SILENCE_KEEP}
        return out

    def _tick(self, now: datetime) -> list[str]:
        """Apply timers in the groups that need a look; inhibitor changes widen the set."""
        todo = self._dirty | {g for g, at in self._due.items() if at <= now}
        self._dirty = set()
        changed_targets = set()
        for group_key in todo:
            for record in self._records.get(group_key, {}).values():
                before = record.phase
                record.tick(now, rule_for(self._rules, record.key.kind), self.settings)
                if record.phase is not before:
                    self._touch(record)
                    if record.key.kind in INHIBITORS:
                        changed_targets.add(record.key.target)
        todo |= {self._group_key(t, c) for t in changed_targets for c in self._categories}
        order = {c: i for i, c in enumerate(self._categories)}
        return sorted(todo, key=lambda g: (g.rsplit(":", 1)[0], order.get(g.rsplit(":", 1)[1],
                                                                            99)))

    def _flush_group(self, group_key: str, ctx: FlushContext) -> list[Notification]:
        records = list(self._records.get(group_key, {}).values())
        group = self._groups.get(group_key)
        if group is None and any(r.phase is Phase.FIRING for r in records):
            group = self._open_group(records[0].key, ctx.now, revisit=False)
        shown_before = [(r.message_key, r.shown) for r in records]
        result = flush_group(group, records, ctx) if group else None
        for record, before in zip(records, shown_before, strict=True):
            if record.disposable(ctx.now, self.settings):
                del self._records[group_key][str(record.key)]
                self._changes[str(record.key)] = self._next()
            elif before != (record.message_key, record.shown):
                self._touch(record)
        dues = [d for r in records if (d := r.due(rule_for(self._rules, r.key.kind),
                                                  self.settings))]
        dues += result.due if result else []
        # what was due by now has just been handled; a past time would only spin a timer
        dues = [d for d in dues if d > ctx.now]
        self._due.pop(group_key, None)
        if dues:
            self._due[group_key] = min(dues)
        if group and not group.messages and not any(
                r.phase is Phase.FIRING for r in self._records.get(group_key, {}).values()):
            del self._groups[group_key]
            self._changes[_GROUP + group_key] = self._next()
        elif group and result and result.changed:
            self._changes[_GROUP + group_key] = self._next()
        if not self._records.get(group_key, True):
            del self._records[group_key]
        return result.notifications if result else []

    def _flush_events(self, ctx: FlushContext) -> list[Notification]:
        by_target: dict[str, list[AlertLine]] = {}
        for ev in self._events:
            if any(s.active(ctx.now) and s.matches(ev.key) for s in self._silences.values()):
                continue
            by_target.setdefault(ev.key.target, []).append(AlertLine(
                key=ev.key, alert_id=alert_id(ev.key), state=LineState.EVENT,
                severity=ev.severity, summary=ev.summary, started_at=ev.at,
                details=ev.details))
        self._events = []
        out = []
        for target, lines in by_target.items():
            group = GroupState(key=self._group_key(target, "events"), target=target,
                               created_at=ctx.now)
            out.append(build(NotificationType.EVENT, group, ctx.new_id(), lines, ctx))
        return out

    # ------------------------------------------------------------------ muting

    def _muted(self, record: AlertRecord, now: datetime, inhibiting: dict[str, bool]) -> bool:
        return (self._inhibited(record, inhibiting)
                or self._silenced_until(record, now) is not None)

    def _inhibited(self, record: AlertRecord, inhibiting: dict[str, bool]) -> bool:
        if record.key.kind not in INHIBITED:
            return False
        target = record.key.target
        if target not in inhibiting:
            inhibiting[target] = any(r.key.kind in INHIBITORS and r.phase is Phase.FIRING
                                     for r in self._target_records(target))
        return inhibiting[target]

    def _silenced_until(self, record: AlertRecord, now: datetime) -> datetime | None:
        if not self._silences:
            return None
        ends = [s.ends_at for s in self._silences.values()
                if s.active(now) and s.matches(record.key)]
        return max(ends) if ends else None

    def _unmute_at(self, record: AlertRecord, now: datetime) -> datetime | None:
        if record.phase is not Phase.FIRING:
            return None
        return self._silenced_until(record, now)

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
            self._changes[_GROUP + group_key] = self._next()
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
                "silences": [s.to_dict() for s in self._silences.values()],
                "events": [{"key": str(e.key), "at": time_text(e.at),
                            "severity": e.severity.value, "summary": e.summary,
                            "details": dict(e.details)} for e in self._events]}

    @_locked
    def to_dict(self) -> dict[str, Any]:
        """The whole state: ``{"meta": …, "records": {key: data}}``."""
        records: dict[str, Any] = {_GROUP + k: g.to_dict() for k, g in self._groups.items()}
        for group in self._records.values():
            records.update({_ALERT + k: r.to_dict() for k, r in group.items()})
        return {"meta": self._meta(), "records": records}

    @_locked
    def delta(self) -> EngineDelta:
        """What changed since the last ``mark_saved``; pass it to ``Outbox.enqueue``."""
        upserts, deletes = [], []
        for key in self._changes:
            if key.startswith(_GROUP):
                group = self._groups.get(key.removeprefix(_GROUP))
                if group is None:
                    deletes.append(key)
                else:
                    upserts.append((key, group.target, group.to_dict()))
                continue
            alert_key = AlertKey.parse(key)
            record = self._records.get(self._group_key(
                alert_key.target, rule_for(self._rules, alert_key.kind).category), {}).get(key)
            if record is None:
                deletes.append(_ALERT + key)
            else:
                upserts.append((_ALERT + key, record.key.target, record.to_dict()))
        return EngineDelta(meta={**self._meta(), "saved_seq": self._seq},
                           upserts=tuple(upserts), deletes=tuple(deletes))

    @_locked
    def mark_saved(self, delta: EngineDelta) -> None:
        """Forget changes that ``delta`` saved (and that did not change again since)."""
        saved_seq = int(delta.meta["saved_seq"])
        self._changes = {k: n for k, n in self._changes.items() if n > saved_seq}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], settings: AlertSettings, *,
                  rules: Mapping[str, KindRule] | None = None,
                  new_id: Callable[[], str] | None = None) -> AlertEngine:
        """Rebuild an engine from ``to_dict`` output or ``Store.load_alert_state``."""
        engine = cls(settings, rules=rules, new_id=new_id)
        meta = data["meta"]
        if meta.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported alert state version {meta.get('version')!r}")
        engine._silences = {s["id"]: Silence.from_dict(s) for s in meta["silences"]}
        engine._events = [_Event(AlertKey.parse(e["key"]), datetime.fromisoformat(e["at"]),
                                 Severity(e["severity"]), e["summary"], e["details"])
                          for e in meta["events"]]
        for key, item in data["records"].items():
            if key.startswith(_GROUP):
                engine._groups[key.removeprefix(_GROUP)] = GroupState.from_dict(item)
            else:
                record = AlertRecord.from_dict(item)
                group_key = engine._group_key(
                    record.key.target, rule_for(engine._rules, record.key.kind).category)
                engine._records.setdefault(group_key, {})[str(record.key)] = record
        engine._dirty = set(engine._groups) | set(engine._records)
        return engine
