"""The hub keeps the logbook: an incident opens when an outage alert is first shown, in
whatever message it is shown, and closes when it resolves."""

from __future__ import annotations

import io
from datetime import timedelta

from remi_ops.alerts.hub import AlertHub
from remi_ops.alerts.local_sinks import ConsoleSink
from remi_ops.alerts.model import AlertKey, Condition
from remi_ops.alerts.outbox import Outbox
from remi_ops.clock import FakeClock
from remi_ops.config import AlertSettings
from remi_ops.domain import Event, EventKind, Severity
from remi_ops.store.database import Store
from remi_ops.store.records import HistoryKind


def condition(kind: str, severity: Severity, summary: str) -> Condition:
    return Condition(AlertKey("remi", kind), severity, summary)


async def test_a_hang_edited_into_an_earlier_warning_opens_an_incident(
        store: Store, clock: FakeClock) -> None:
    """Found using ``remi-ops watch``: the hang joined the "blocked for 31s" warning's
    message (an update, not a new post), and history never got an incident for it."""
    settings = AlertSettings(keep_firing_for_s=0)  # the example config's grouping
    outbox = Outbox(store, [ConsoleSink(io.StringIO())], clock, settings=settings)
    hub = AlertHub.load(settings, outbox, store, clock)
    for seconds in range(11, 61, 10):  # for_checks 2, then group_wait 30 s: posted
        hub.observe(clock.now(), "remi", [condition("unhealthy", Severity.WARNING,
                                                    f"event loop blocked for {seconds}s")])
        await hub.commit()
        clock.advance(10)
    assert outbox.rows.store.query("SELECT COUNT(*) FROM outbox")[0][0] == 1
    assert not store.history(clock.now() - timedelta(hours=1))  # a warning is no incident
    hub.observe(clock.now(), "remi", [
        condition("unhealthy", Severity.WARNING, "event loop blocked for 53s"),
        condition("hang", Severity.PAGE, "event loop blocked for 61s")])
    hub.event(Event("remi", EventKind.RESTART, clock.now(), Severity.WARNING, "restarted",
                    {"restart": {"trigger": "hang"}}))
    await hub.commit()
    (incident,) = store.history(clock.now() - timedelta(hours=1))
    assert incident.kind is HistoryKind.INCIDENT and not incident.ok  # open
    clock.advance(10)
    hub.observe(clock.now(), "remi", [])
    await hub.commit()
    (closed,) = store.history(clock.now() - timedelta(hours=1))
    assert closed.ok  # closed
