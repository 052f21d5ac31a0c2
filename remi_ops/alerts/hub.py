"""The bridge from the watchdog to the alert engine and the outbox.

Watch threads hand over conditions and events through a thread-safe queue; the engine is
only ever touched on the event loop (``commit``), then the outbox persists the engine's
state and the notifications in one transaction and wakes the sinks. Incidents open when a
health alert fires and close when it resolves, so ``history`` reads like a logbook.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import queue
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from remi_ops.alerts.engine import AlertEngine
from remi_ops.alerts.model import (
    AlertKey,
    AlertLine,
    Condition,
    LineState,
    Notification,
    NotificationType,
)
from remi_ops.alerts.outbox import Outbox
from remi_ops.clock import Clock
from remi_ops.config import AlertSettings
from remi_ops.domain import AlertKind, Event, EventKind, Severity
from remi_ops.store.database import Store

log = logging.getLogger(__name__)
#: events worth a message of their own; the rest (state changes) are history only
NOTIFIED_EVENTS = frozenset(EventKind) - {EventKind.STATE_CHANGED}
INCIDENT_KINDS = frozenset({AlertKind.DOWN, AlertKind.HANG, AlertKind.GAVE_UP,
                            AlertKind.FATAL_CONFIG})


def jsonable(value: Any) -> Any:
    """Domain values (dataclasses, enums, datetimes) as plain JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class AlertHub:
    """Implements the watchdog's ``Notifier``; owns the engine and drives the outbox."""

    def __init__(self, engine: AlertEngine, outbox: Outbox, store: Store, clock: Clock) -> None:
        self.engine, self.outbox, self.store, self.clock = engine, outbox, store, clock
        self._inbox: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.listeners: list[Callable[[Notification], None]] = []
        #: called (from any thread) when an input is queued: wakes the commit loop
        self.on_input: Callable[[], None] = lambda: None

    @classmethod
    def load(cls, settings: AlertSettings, outbox: Outbox, store: Store,
             clock: Clock) -> AlertHub:
        """Restore the engine from the store so nothing announced is announced again."""
        saved = store.load_alert_state()
        engine = AlertEngine.from_dict(saved, settings) if saved else AlertEngine(settings)
        return cls(engine, outbox, store, clock)

    # -------------------------------------------------------------- from watch threads

    def observe(self, now: datetime, target: str, conditions: list[Condition]) -> None:
        plain = [dataclasses.replace(c, details=jsonable(c.details)) for c in conditions]
        self._inbox.put(lambda: self.engine.observe(now, target, plain))
        self.on_input()

    def event(self, event: Event) -> None:
        if event.kind not in NOTIFIED_EVENTS:
            return
        key = AlertKey(event.target, event.kind)
        details = jsonable(event.data)
        self._inbox.put(lambda: self.engine.event(event.at, key, event.severity, event.summary,
                                                  details))
        self.on_input()

    def take_journal(self) -> None:
        """Journaled events reach the engine in order with the conditions handed over
        before them (a hang observed, then the restart made for it), not at the next
        commit after a later check has already cleared the condition."""
        self._inbox.put(lambda: self.outbox.journal.take(self.engine))
        self.on_input()

    # -------------------------------------------------------------- on the event loop

    async def commit(self) -> list[Notification]:
        """Apply queued inputs, flush the engine, persist and enqueue atomically (the engine
        work runs in a worker thread; the engine serialises its own calls)."""
        await self.outbox.in_thread(self._apply_inbox)
        fresh = await self.outbox.commit(self.engine)
        if fresh:
            await self.outbox.in_thread(self._track_incidents, fresh)
            for notification in fresh:
                for listener in self.listeners:
                    listener(notification)
        return fresh

    def _apply_inbox(self) -> None:
        while True:
            try:
                self._inbox.get_nowait()()
            except queue.Empty:
                return

    async def silence(self, matchers: Mapping[str, str], duration_s: float, who: str,
                      comment: str) -> Any:
        silence = self.engine.silence(self.clock.now(), matchers, duration_s, who, comment)
        await self.commit()
        return silence

    async def ack(self, ref: str, who: str) -> list[AlertLine]:
        keys = set(self.engine.ack(self.clock.now(), ref, who))
        await self.commit()
        return [line for line in self.engine.alerts() if line.key in keys]

    async def declare_over(self, key: AlertKey) -> bool:
        """An occurrence alert a person declared over (``resolve``); True if one fired."""
        over = self.engine.declare_over(self.clock.now(), key)
        await self.commit()
        return over

    def alerts(self, target: str | None = None) -> list[AlertLine]:
        return self.engine.alerts(target)

    # -------------------------------------------------------------- incidents

    def _track_incidents(self, notifications: list[Notification]) -> None:
        for n in notifications:
            kinds = {line.key.kind for line in n.alerts}
            if not kinds & INCIDENT_KINDS:
                continue
            open_key = f"incident:{n.target}"
            current = self.store.get_state(open_key)
            # a hang edited into an earlier warning's message arrives as an update
            opening = any(line.key.kind in INCIDENT_KINDS and line.state in (
                LineState.FIRING, LineState.FLAPPING) for line in n.alerts)
            if n.type is not NotificationType.RESOLVED and opening and not current:
                severity = Severity.worst((line.severity for line in n.alerts),
                                          Severity.WARNING)
                incident = self.store.open_incident(n.target, n.title, severity,
                                                    "; ".join(n.lines)[:500], at=n.created_at)
                self.store.put_state(open_key, incident.id)
            elif n.type is NotificationType.RESOLVED and current and all(
                    line.resolved_at is not None for line in n.alerts
                    if line.key.kind in INCIDENT_KINDS):
                self.store.close_incident(int(current), n.title, at=n.created_at)
                self.store.put_state(open_key, None)
