"""The alert engine: Alertmanager's lifecycle, pure, with state that survives restarts.

Checks call ``observe`` with everything currently true for a target and ``event`` for
one-shot facts; ``flush(now)`` returns the notifications due. Nothing here does I/O or
reads a clock, so every rule is tested by moving a ``FakeClock``. The state converts to
plain dicts (``to_dict``/``from_dict``, or the incremental ``delta``) and is saved in the
same transaction as the outbox rows, so after a watcher restart nothing already announced
is announced again and the repeat timers carry on where they were. What the engine
remembers and how it is saved lives in ``alerts.engine_state``; silences in
``alerts.silences``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from remi_ops.alerts.dispatch import (
    FlushContext,
    GroupState,
    acted_on_alert,
    build,
    flush_group,
    incident_message,
)
from remi_ops.alerts.engine_state import (
    GROUP_PREFIX,
    STATE_VERSION,
    EngineState,
    QueuedEvent,
    locked,
)
from remi_ops.alerts.model import (
    AlertKey,
    AlertLine,
    Condition,
    LineState,
    Notification,
    NotificationType,
    Silence,
)
from remi_ops.alerts.rules import INHIBITED, INHIBITORS, AlertRecord, Phase, alert_id, rule_for
from remi_ops.domain import EMPTY, Severity

__all__ = ["STATE_VERSION", "AlertEngine"]


class AlertEngine(EngineState):
    """Alert lifecycle, grouping, inhibition, silences, acknowledgements and flapping."""

    # ------------------------------------------------------------------ inputs

    @locked
    def observe(self, now: datetime, target: str, conditions: Iterable[Condition]) -> None:
        """One check's verdict: every condition currently true for ``target``.

        Level alerts of ``target`` that are not passed as active are false now. Occurrence
        alerts (error groups) passed as active happened again; absent ones are left alone.
        """
        mentioned: set[AlertKey] = set()
        touched: list[AlertRecord] = []  # the records this check moved
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
            elif not self._awaiting_post(record):
                record.on_false(now, rule, self.settings)
            self._touch(record)
            touched.append(record)
        for record in self._target_records(target):
            rule = rule_for(self._rules, record.key.kind)
            if rule.occurrence or record.key in mentioned or self._awaiting_post(record):
                continue
            if record.raw or record.phase in (Phase.PENDING, Phase.FIRING):
                record.on_false(now, rule, self.settings)
                self._touch(record)
                touched.append(record)
        # only their groups need a look at the next flush (the others' timers are in
        # ``_due``); all of the target's when an outage alert moved (it mutes the others)
        if any(r.key.kind in INHIBITORS for r in touched):
            self._dirty.update(self._group_key(target, c) for c in self._categories)
        self._dirty.update(self._group_key(target, rule_for(self._rules, r.key.kind).category)
                           for r in touched)

    @locked
    def event(self, now: datetime, key: AlertKey, severity: Severity, summary: str,
              details: Mapping[str, Any] | None = None) -> None:
        """A one-shot fact (escalation, restart report, scan result): sent at the next flush.

        No pending and no group wait, but silences apply, and one flush sends one message
        per target however many events arrived. A restart the watcher made because of a
        hang or a death makes that alert fire now and go out before the report (see
        ``_acting_on``), so the report has an incident message to reply to.
        """
        self._events.append(QueuedEvent(key, now, severity, summary, dict(details or EMPTY)))
        cause = acted_on_alert(key, details or EMPTY)
        if cause is not None:
            self._acting_on(now, cause)

    def _acting_on(self, now: datetime, key: AlertKey) -> None:
        """The watcher acted on ``key``'s condition: a pending alert fires at once (the
        action is the second opinion ``for_checks`` waits for), and it is posted at the
        next flush without waiting for ``group_wait``. Only while its condition still holds:
        a condition already gone needs no message (the report says what happened)."""
        rule = rule_for(self._rules, key.kind)
        record = self._record(key, create=False)
        if record is None or not record.raw or record.message_key is not None:
            return
        if record.fire_now(now, self.settings):
            self._touch(record)
        if record.phase is Phase.FIRING:
            self._acting.add(str(key))
            self._dirty.add(self._group_key(key.target, rule.category))

    @locked
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

    @locked
    def declare_over(self, now: datetime, key: AlertKey) -> bool:
        """A person says an occurrence alert is over (an error group marked fixed): it
        resolves now, and its next occurrence fires anew instead of editing a count.
        False when there is no such firing occurrence alert."""
        rule = rule_for(self._rules, key.kind)
        record = self._record(key, create=False)
        if record is None or not rule.occurrence or record.phase is not Phase.FIRING:
            return False
        record.on_false(now, rule, self.settings)
        self._touch(record)
        self._dirty.add(self._group_key(key.target, rule.category))
        return True

    # ------------------------------------------------------------------ silences

    @locked
    def silence(self, now: datetime, matchers: Mapping[str, str], duration_s: float,
                created_by: str, comment: str) -> Silence:
        """Mute matching alerts (globs on target/kind/fingerprint) for ``duration_s``."""
        silence = self._silences.create(now, matchers, duration_s, created_by, comment,
                                        max_s=self.settings.silence_max_s)
        self._dirty.update(self._groups)
        return silence

    @locked
    def expire_silence(self, now: datetime, silence_id: str) -> Silence:
        """End a silence now (``KeyError`` if unknown); muted alerts become notifiable."""
        silence = self._silences.expire(now, silence_id)
        self._dirty.update(self._groups)
        return silence

    @locked
    def silences(self, now: datetime) -> list[Silence]:
        """Silences in force at ``now``, soonest to end first."""
        return self._silences.in_force(now)


    @locked
    def alerts(self, target: str | None = None) -> list[AlertLine]:
        """Firing alerts (flapping included), for status commands."""
        return sorted((r.line() for records in self._records.values()
                       for r in records.values() if r.phase is Phase.FIRING
                       and (target is None or r.key.target == target)),
                      key=lambda line: str(line.key))

    # ------------------------------------------------------------------ flush

    @locked
    def next_due(self, now: datetime) -> datetime | None:
        """When ``flush`` next has work (group wait ending, a retry, a resolution timer).

        Checks run every minute but group wait is 30 s: a timer must flush in between.
        """
        if self._dirty or self._events:
            return now
        return min(self._due.values(), default=None)

    @locked
    def flush(self, now: datetime) -> list[Notification]:
        """Everything due now. Call after each check and on a timer (timers also resolve)."""
        groups = self._tick(now)
        inhibiting: dict[str, bool] = {}  # per target; phases do not change past _tick
        ctx = FlushContext(now=now, settings=self.settings, new_id=self._new_id,
                           muted=lambda r: self._muted(r, now, inhibiting),
                           unmute_at=lambda r: self._unmute_at(r, now),
                           acted_on=self._acted_on, recovered=self._recovered)
        out: list[Notification] = []
        for group_key in groups:
            out += self._flush_group(group_key, ctx)
        out += self._flush_events(ctx)
        self._silences.prune(now)
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
        self._acting -= {str(r.key) for r in records
                         if r.message_key is not None or r.phase is not Phase.FIRING}
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
            self._changes[GROUP_PREFIX + group_key] = self._next()
        elif group and result and result.changed:
            self._changes[GROUP_PREFIX + group_key] = self._next()
        if not self._records.get(group_key, True):
            del self._records[group_key]
        return result.notifications if result else []

    def _flush_events(self, ctx: FlushContext) -> list[Notification]:
        by_target: dict[str, list[AlertLine]] = {}
        for ev in self._events:
            if self._silences.mutes(ev.key, ctx.now):
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
            incident = incident_message(self._groups.get(self._group_key(target, "health")))
            out.append(build(NotificationType.EVENT, group, ctx.new_id(), lines, ctx,
                             reply_to=incident))
        return out

    # ------------------------------------------------------------------ muting

    def _muted(self, record: AlertRecord, now: datetime, inhibiting: dict[str, bool]) -> bool:
        return (self._inhibited(record, inhibiting)
                or self._silences.until(record.key, now) is not None)

    def _inhibited(self, record: AlertRecord, inhibiting: dict[str, bool]) -> bool:
        """Muted by a live outage alert of its target. Only a live one: a flapping alert or
        one firing on by hysteresis after Remi came back must not hide a new error group
        for the rest of the session (a new group is its own alert)."""
        if record.key.kind not in INHIBITED:
            return False
        target = record.key.target
        if target not in inhibiting:
            inhibiting[target] = any(
                r.key.kind in INHIBITORS and r.phase is Phase.FIRING and r.raw
                and not r.flapping for r in self._target_records(target))
        return inhibiting[target]

    def _awaiting_post(self, record: AlertRecord) -> bool:
        """Acted on and not shown yet: it is posted before it may resolve (with
        ``keep_firing_for_s = 0`` the check after a restart would otherwise resolve a hang
        nobody was ever told of)."""
        return str(record.key) in self._acting and record.message_key is None

    def _acted_on(self, record: AlertRecord) -> bool:
        """The watcher restarted for it: posted now, before the report, even if the
        restart already cleared the condition (the check after it may come first)."""
        return str(record.key) in self._acting

    def _recovered(self, record: AlertRecord) -> bool:
        """Gone before it was ever posted: nobody is paged for it, unless the watcher acted
        on it (then the story needs its message: alert → restart → resolved)."""
        return (not rule_for(self._rules, record.key.kind).occurrence and not record.raw
                and not self._acted_on(record))

    def _unmute_at(self, record: AlertRecord, now: datetime) -> datetime | None:
        if record.phase is not Phase.FIRING:
            return None
        return self._silences.until(record.key, now)
