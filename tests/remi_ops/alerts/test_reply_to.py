"""What an event replies to is persisted data: the engine names the open incident's alert
message (``Notification.reply_to``), so a sink finds it in its stored message refs after
any restart, instead of remembering it in memory."""

from __future__ import annotations

from typing import Any

from bubabot_local.alertkit import Harness, T, cond, summary

from remi_ops.alerts.engine import AlertEngine
from remi_ops.alerts.model import AlertKey, Notification
from remi_ops.domain import Severity


def event(h: Harness, kind: str, trigger: str = "") -> None:
    details: dict[str, Any] = {"restart": {"trigger": trigger}} if trigger else {}
    h.engine.event(h.clock.now(), AlertKey(T, kind), Severity.WARNING, f"{kind} happened",
                   details)


def test_the_restart_report_and_scan_result_reply_to_the_hang_they_follow() -> None:
    h = Harness(for_checks=2, keep_firing_for_s=120.0)
    h.engine.observe(h.clock.now(), T, [cond("hang", severity=Severity.PAGE)])
    event(h, "restart", trigger="hang")
    hang, report = h.flush()
    assert summary([hang, report]) == [("firing", ["hang"]), ("event", ["restart"])]
    assert report.reply_to == hang.message_key
    h.clock.advance(3)
    event(h, "scan_test")
    (scan,) = h.check()
    assert scan.reply_to == hang.message_key
    (resolved,) = h.wait(120)
    event(h, "scan_test")  # the incident is over: a later event starts its own story
    (later,) = h.flush()
    assert resolved.message_key == hang.message_key and later.reply_to is None


def test_a_report_replies_to_the_warning_the_hang_joined() -> None:
    h = Harness(keep_firing_for_s=120.0)
    h.check(cond("unhealthy", summary="event loop blocked for 22 s"))
    (warning,) = h.wait(30)
    h.clock.advance(8)
    h.engine.observe(h.clock.now(), T, [cond("hang", severity=Severity.PAGE)])
    event(h, "restart", trigger="hang")
    _update, report = h.flush()
    assert report.reply_to == warning.message_key


def test_the_reply_target_survives_the_engine_being_saved_and_restored() -> None:
    """A watcher restarted between the alert and the report: the restored engine still
    knows which message the report answers."""
    h = Harness(keep_firing_for_s=120.0)
    h.check(cond("unhealthy", summary="event loop blocked for 22 s"))
    (warning,) = h.wait(30)
    restored = AlertEngine.from_dict(h.engine.to_dict(), h.engine.settings)
    restored.event(h.clock.now(), AlertKey(T, "restart"), Severity.WARNING, "restarted",
                   {"restart": {"trigger": "operator"}})
    (report,) = restored.flush(h.clock.now())
    assert report.reply_to == warning.message_key


def test_an_event_with_no_incident_replies_to_nothing_and_rows_round_trip() -> None:
    h = Harness()
    event(h, "restart", trigger="operator")
    (report,) = h.flush()
    assert report.reply_to is None
    data = report.to_dict() | {"reply_to": "abc"}
    assert Notification.from_dict(data).reply_to == "abc"
    older = {k: v for k, v in data.items() if k != "reply_to"}  # a row written before it
    assert Notification.from_dict(older).reply_to is None
