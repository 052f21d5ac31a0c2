"""Incidents, transitions, restarts, scans, the audit and the merged history, on a real file."""

from __future__ import annotations

from datetime import timedelta

from remi_ops.clock import FakeClock
from remi_ops.domain import RestartReport, ScanOutcome, ScanResult, Severity, Trigger
from remi_ops.logs.redact import redact_patterns
from remi_ops.store.database import Store

# ---------------------------------------------------------------------- tables


def test_incidents_open_once_close_and_list(store: Store, clock: FakeClock) -> None:
    """Opening twice returns the same open incident; closing sets a duration."""
    a = store.open_incident("remi", "remi down", Severity.PAGE, "process gone")
    assert store.open_incident("remi", "again", Severity.PAGE).id == a.id
    clock.advance(90)
    closed = store.close_incident(a.id, summary="restarted")
    assert closed is not None and closed.duration_s == 90 and closed.summary == "restarted"
    assert store.close_incident(999) is None
    assert [i.id for i in store.incidents(clock.now() - timedelta(hours=1))] == [a.id]
    assert store.incidents(clock.now() + timedelta(seconds=1)) == []


def test_transitions_in_order(store: Store, clock: FakeClock) -> None:
    start = clock.now()
    store.record_transition("remi", None, "running", "unhealthy", "loop lag 850 s")
    clock.advance(5)
    store.record_transition("remi", clock.now(), "unhealthy", "restarting", "hang")
    store.record_transition("other", None, "running", "stopped", "operator")
    got = store.transitions("remi", start)
    assert [(t.from_state, t.to_state) for t in got] == [("running", "unhealthy"),
                                                          ("unhealthy", "restarting")]


def test_restarts_round_trip_and_count(store: Store, clock: FakeClock) -> None:
    report = RestartReport("remi", "event loop blocked", Trigger.HANG, "watchdog", True,
                           clock.now(), 3.25, 100, 200, "ok",
                           redact_patterns("stack dump"))
    store.record_restart(report)
    clock.advance(60)
    store.record_restart(RestartReport("remi", "crash", Trigger.CRASH, "watchdog", False,
                                       clock.now(), 1.0))
    since = clock.now() - timedelta(hours=1)
    assert store.restarts("remi", since)[1] == report
    assert store.count_restarts("remi", since) == 2
    assert store.count_restarts("remi", clock.now()) == 1


def test_scans(store: Store, clock: FakeClock) -> None:
    assert store.last_scan("remi") is None
    first = ScanResult("remi", ScanOutcome.FAILED, clock.now(), 12.0, 1,
                       redact_patterns("NameError"), "exit 1")
    clock.advance(60)
    second = ScanResult("remi", ScanOutcome.PASSED, clock.now(), 3.0, 0, over_budget=True)
    store.record_scan(first)
    store.record_scan(second)
    assert store.last_scan("remi") == second
    assert store.scans("remi", clock.now() - timedelta(hours=1)) == [second, first]


def test_audit_log(store: Store, clock: FakeClock) -> None:
    store.audit("discord:1 (ann)", "restart", "remi", arguments={"reason": "stuck"},
                result="restarted", ok=True, duration_s=4.2)
    clock.advance(1)
    store.audit("discord:2 (bob)", "silence", "remi", arguments={}, result="denied", ok=False,
                duration_s=0.0)
    entries = store.audit_log(limit=10)
    assert [e.actor for e in entries] == ["discord:2 (bob)", "discord:1 (ann)"]
    assert entries[1].arguments == {"reason": "stuck"} and entries[1].ok
    assert len(store.audit_log(since=clock.now())) == 1


def test_history_merges_incidents_and_restarts(store: Store, clock: FakeClock) -> None:
    start = clock.now()
    inc = store.open_incident("remi", "remi down", Severity.PAGE)
    clock.advance(10)
    store.record_restart(RestartReport("remi", "crash", Trigger.CRASH, "watchdog", True,
                                       clock.now(), 2.0))
    clock.advance(50)
    store.close_incident(inc.id)
    items = store.history(start)
    assert [(i.kind, i.duration_s) for i in items] == [("restart", 2.0), ("incident", 60.0)]
