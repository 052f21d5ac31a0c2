"""Turning one alert group's state into the notifications due now (Alertmanager's dispatcher).

A group is one target's alerts of one category ("health", "errors"). Its first
notification waits ``group_wait_s`` so an outage is one message, unless an alert in it is
being acted on (a hang or a death the watcher is restarting): that one is posted at once,
before the action's report, and the report can reply to it. After that, new alerts
and counter updates are batched at most every ``group_interval_s``; state changes
(resolved, flapping, acknowledged) go at the next flush, because a stale "firing" message
is worse than one more edit; unacknowledged firing alerts are re-posted every
``repeat_interval_s``. A level alert whose condition is already false again when it would
first be posted is never posted (no page for something already recovered). Each message
remembers what it last showed, so an edit re-renders the whole message and detached
(re-fired) alerts keep their old line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from remi_ops.alerts.model import (
    AlertKey,
    AlertLine,
    LineState,
    Notification,
    NotificationType,
    parse_time,
    time_text,
)
from remi_ops.alerts.rules import AlertRecord, Phase
from remi_ops.alerts.text import alert_line, notification_title
from remi_ops.config import AlertSettings
from remi_ops.domain import Severity


@dataclass(slots=True)
class GroupState:
    """Timers and shown messages of one alert group."""

    key: str
    target: str
    created_at: datetime
    waited: bool = False  # group_wait has passed once
    last_sent_at: datetime | None = None
    last_post_at: datetime | None = None
    messages: dict[str, dict[str, AlertLine]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "target": self.target,
                "created_at": time_text(self.created_at), "waited": self.waited,
                "last_sent_at": time_text(self.last_sent_at),
                "last_post_at": time_text(self.last_post_at),
                "messages": {mk: {k: line.to_dict() for k, line in lines.items()}
                             for mk, lines in self.messages.items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GroupState:
        return cls(key=d["key"], target=d["target"],
                   created_at=datetime.fromisoformat(d["created_at"]), waited=d["waited"],
                   last_sent_at=parse_time(d["last_sent_at"]),
                   last_post_at=parse_time(d["last_post_at"]),
                   messages={mk: {k: AlertLine.from_dict(v) for k, v in lines.items()}
                             for mk, lines in d["messages"].items()})


@dataclass(frozen=True, slots=True)
class FlushContext:
    """What ``flush_group`` needs from the engine, as values and pure callbacks."""

    now: datetime
    settings: AlertSettings
    new_id: Callable[[], str]
    muted: Callable[[AlertRecord], bool]
    unmute_at: Callable[[AlertRecord], datetime | None]
    #: the watcher is acting on this alert's condition: post it now, no group wait
    acted_on: Callable[[AlertRecord], bool] = lambda _record: False
    #: a level alert whose condition is false again (still firing only by hysteresis)
    recovered: Callable[[AlertRecord], bool] = lambda _record: False

    def after(self, at: datetime | None, seconds: float) -> datetime | None:
        return None if at is None else at + timedelta(seconds=seconds)


@dataclass(slots=True)
class FlushResult:
    notifications: list[Notification] = field(default_factory=list)
    due: list[datetime] = field(default_factory=list)
    changed: bool = False


def flush_group(group: GroupState, records: Sequence[AlertRecord],
                ctx: FlushContext) -> FlushResult:
    """Notifications due now for ``group``, and when it next needs a look."""
    result = FlushResult()
    s, now = ctx.settings, ctx.now
    urgent = any(ctx.acted_on(r) for r in _fresh(records, ctx))
    if not group.waited:
        ready = group.created_at + timedelta(seconds=s.group_wait_s)
        if now < ready and not urgent:
            result.due.append(ready)
            return result
        group.waited = result.changed = True
    next_batch = ctx.after(group.last_sent_at, s.group_interval_s)
    batch_open = urgent or next_batch is None or now >= next_batch
    if urgent:
        _escalate_live_message(group, records, ctx, result)
    _edit_messages(group, records, ctx, batch_open, result)
    _post_new(group, records, ctx, batch_open, result)
    _repeat(group, records, ctx, result)
    if result.notifications:
        group.last_sent_at, result.changed = now, True
    for record in records:
        unmute = ctx.unmute_at(record)
        if unmute is not None:
            result.due.append(unmute)
    return result


def _escalate_live_message(group: GroupState, records: Sequence[AlertRecord],
                           ctx: FlushContext, result: FlushResult) -> None:
    """An acted-on alert joins the group's live message instead of posting a second one.

    A blocked loop is first a warning ("blocked for 22 s", with the stack); when it becomes
    the hang the watcher restarts for, the reader needs that same message to say so, and
    the restart report and scan result to reply to it: one story, the stack shown once.
    The update names what escalated, so a sink can page with a short reply to it.
    """
    live = next((key for key, shown in group.messages.items()
                 if any(line.state in _OPEN for line in shown.values())), None)
    joining = [r for r in _fresh(records, ctx) if ctx.acted_on(r)]
    if live is None or not joining:
        return
    shown = group.messages[live]
    for record in joining:
        record.message_key = live
    for record in records:
        if record.message_key == live:
            line = record.line()
            shown[str(record.key)] = line
            record.shown = line.state
    result.notifications.append(build(NotificationType.UPDATE, group, live,
                                      list(shown.values()), ctx,
                                      details={"escalated": [str(r.key) for r in joining]}))


def _edit_messages(group: GroupState, records: Sequence[AlertRecord], ctx: FlushContext,
                   batch_open: bool, result: FlushResult) -> None:
    for message_key in list(group.messages):
        shown = group.messages[message_key]
        attached = [r for r in records if r.message_key == message_key]
        lines = {str(r.key): r.line() for r in attached}
        urgent = waiting = False
        for record in attached:
            old, new = shown.get(str(record.key)), lines[str(record.key)]
            if old is None or old.signature() == new.signature():
                continue
            if old.state != new.state or old.ack_by != new.ack_by:
                urgent = True
            elif not ctx.muted(record):
                waiting = True
        if not urgent and not (waiting and batch_open):
            if waiting:
                result.due.append(_or_now(ctx.after(group.last_sent_at,
                                                    ctx.settings.group_interval_s), ctx))
            continue
        turned_flapping = any(shown[k].state is not LineState.FLAPPING
                              and line.state is LineState.FLAPPING for k, line in lines.items()
                              if k in shown)
        shown.update(lines)
        everything = list(shown.values())
        closed = all(line.state is LineState.RESOLVED for line in everything)
        kind = (NotificationType.FLAPPING if turned_flapping
                else NotificationType.RESOLVED if closed else NotificationType.UPDATE)
        result.notifications.append(build(kind, group, message_key, everything, ctx))
        for record in attached:
            record.shown = lines[str(record.key)].state
            if closed:
                record.message_key, record.shown = None, None
        if closed:
            del group.messages[message_key]


def _fresh(records: Sequence[AlertRecord], ctx: FlushContext) -> list[AlertRecord]:
    """Firing alerts not shown yet that should be: not muted, not already recovered."""
    return [r for r in records if r.phase is Phase.FIRING and r.message_key is None
            and not ctx.muted(r) and not ctx.recovered(r)]


def _post_new(group: GroupState, records: Sequence[AlertRecord], ctx: FlushContext,
              batch_open: bool, result: FlushResult) -> None:
    fresh = _fresh(records, ctx)
    if not fresh:
        return
    if not batch_open:
        result.due.append(_or_now(ctx.after(group.last_sent_at, ctx.settings.group_interval_s),
                                  ctx))
        return
    steady = [r for r in fresh if not r.flapping]
    flapping = [r for r in fresh if r.flapping]
    for kind, batch in ((NotificationType.FIRING, steady), (NotificationType.FLAPPING, flapping)):
        if not batch:
            continue
        message_key = ctx.new_id()
        lines = {str(r.key): r.line() for r in batch}
        group.messages[message_key] = lines
        for record in batch:
            record.message_key, record.shown = message_key, lines[str(record.key)].state
        result.notifications.append(build(kind, group, message_key, list(lines.values()), ctx))
    group.last_post_at = ctx.now


def _repeat(group: GroupState, records: Sequence[AlertRecord], ctx: FlushContext,
            result: FlushResult) -> None:
    reminders = [r for r in records if r.phase is Phase.FIRING and r.message_key is not None
                 and r.ack_by is None and not ctx.muted(r)]
    due = ctx.after(group.last_post_at, ctx.settings.repeat_interval_s)
    if not reminders or due is None:
        return
    if ctx.now < due:
        result.due.append(due)
        return
    originals = sorted({r.message_key for r in reminders if r.message_key})
    result.notifications.append(build(NotificationType.REPEAT, group, ctx.new_id(),
                                      [r.line() for r in reminders], ctx,
                                      details={"original_message_keys": originals}))
    group.last_post_at = ctx.now
    result.due.append(ctx.now + timedelta(seconds=ctx.settings.repeat_interval_s))


_OPEN = (LineState.FIRING, LineState.FLAPPING)
#: a restart's trigger → the alert kind it acted on
RESTARTED_FOR = {"hang": "hang", "crash": "down"}


def acted_on_alert(key: AlertKey, details: Mapping[str, Any]) -> AlertKey | None:
    """The alert a one-shot event says the watcher acted on: a restart for a hang or a
    death names the target's "hang" or "down" alert; anything else names none."""
    report = details.get("restart")
    if key.kind != "restart" or not isinstance(report, Mapping):
        return None
    kind = RESTARTED_FOR.get(str(report.get("trigger")))
    return None if kind is None else AlertKey(key.target, kind)


def incident_message(group: GroupState | None) -> str | None:
    """The message a target's follow-ups reply to: its health group's live message (one
    with a firing or flapping line), the one showing what the watcher acts on (a hang or a
    death) first; None when no health alert is open."""
    if group is None:
        return None
    live = [key for key, shown in group.messages.items()
            if any(line.state in _OPEN for line in shown.values())]
    acted = [key for key in live if any(
        line.key.kind in RESTARTED_FOR.values() and line.state in _OPEN
        for line in group.messages[key].values())]
    chosen = acted or live
    return chosen[-1] if chosen else None


def _or_now(at: datetime | None, ctx: FlushContext) -> datetime:
    return at if at is not None else ctx.now


def build(kind: NotificationType, group: GroupState, message_key: str,
          lines: Sequence[AlertLine], ctx: FlushContext, *,
          details: Mapping[str, Any] | None = None, reply_to: str | None = None) -> Notification:
    """One notification listing ``lines`` (the whole message for edits)."""
    ordered = sorted(lines, key=lambda line: (line.state is LineState.RESOLVED, str(line.key)))
    downtime = _downtime(ordered) if kind is NotificationType.RESOLVED else None
    acks = sorted({line.ack_by for line in ordered if line.ack_by})
    return Notification(
        id=ctx.new_id(), type=kind, group_key=group.key, target=group.target,
        message_key=message_key, thread_key=group.key,
        severity=Severity.worst((line.severity for line in ordered), Severity.INFO),
        title=notification_title(kind, group.target, ordered, downtime,
                                 ctx.settings.flap_window_s),
        lines=tuple(alert_line(line) for line in ordered), alerts=tuple(ordered),
        created_at=ctx.now, downtime_s=downtime, ack_by=", ".join(acks) or None,
        counts=_counts(ordered), details=dict(details or {}), reply_to=reply_to)


def _downtime(lines: Sequence[AlertLine]) -> float | None:
    starts = [line.started_at for line in lines if line.started_at]
    ends = [line.resolved_at for line in lines if line.resolved_at]
    if not starts or not ends:
        return None
    return max(0.0, (max(ends) - min(starts)).total_seconds())


def _counts(lines: Sequence[AlertLine]) -> dict[str, int]:
    counts = {state.value: 0 for state in LineState if state is not LineState.EVENT}
    for line in lines:
        counts[line.state.value] = counts.get(line.state.value, 0) + 1
    counts["acked"] = sum(1 for line in lines if line.ack_by)
    counts["occurrences"] = sum(line.count for line in lines)
    return counts
