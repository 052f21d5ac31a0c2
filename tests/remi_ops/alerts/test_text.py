"""The one plain-text renderer: what the console, .bot_alert and the command line show."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from remi_ops.alerts import text
from remi_ops.alerts.model import AlertKey, AlertLine, LineState
from remi_ops.domain import (
    Check,
    ErrorGroup,
    Finding,
    HealthReport,
    LogKind,
    RestartReport,
    Severity,
    Status,
    Trigger,
)
from remi_ops.logs.redact import redact_patterns
from remi_ops.store.records import AuditEntry, history_of_action, history_of_restart
from remi_ops.watch.results import (
    ControlOutcome,
    ControlResult,
    HealthResult,
    MaintenanceResult,
    Resolution,
)

NOW = datetime(2026, 1, 24, 3, 0, tzinfo=UTC)
GROUP = ErrorGroup("3f2a9c0d1e4b5a69", "remi",
                   redact_patterns("NameError: name 'asyncio' is not defined"),
                   LogKind.CRASH, 37, NOW, NOW, redact_patterns("Traceback …"),
                   "scoring_async.py")


def test_an_alert_line_says_what_how_often_how_long_and_who_acked() -> None:
    line = AlertLine(AlertKey("remi", "hang"), "0123456789ab", LineState.RESOLVED,
                     Severity.PAGE, "event loop blocked for 850 s", NOW,
                     NOW + timedelta(minutes=14), 3, "jordan")
    assert text.alert_line(line) == ("[RESOLVED] hang — event loop blocked for 850 s ×3 "
                                     "after 14m 00s (acked by jordan)")


def test_control_results_read_as_sentences() -> None:
    stopped = ControlResult("remi", ControlOutcome.STOPPED, "stopped", "x", (42,))
    assert text.control_text(stopped) == "remi: stopped; it stays down until started (pid 42)"
    failed = ControlResult("remi", ControlOutcome.START_FAILED, "backoff",
                           "start failed: no such file")
    assert text.control_text(failed) == ("remi: start failed — backoff: start failed: "
                                         "no such file")


def test_maintenance_says_until_when_in_utc() -> None:
    entered = MaintenanceResult("remi", NOW + timedelta(hours=2), "maintenance", "x")
    assert text.maintenance_text(entered).startswith(
        "remi: in maintenance until 2026-01-24 05:00 UTC")
    assert "maintenance ended" in text.maintenance_text(
        MaintenanceResult("remi", None, "running", "x"))


def test_health_lists_reasons_and_the_supervisor() -> None:
    report = HealthReport("remi", Status.DEGRADED, NOW, (
        Finding(Check.EVENT_LOOP, Status.DEGRADED, "event loop blocked for 12 s"),),
        supervisor_state="unhealthy")
    assert text.health_lines(report, HealthResult(report, "event loop blocked")) == [
        "remi: degraded", "  - event loop blocked for 12 s",
        "  supervisor unhealthy — event loop blocked"]


def test_a_fixed_group_says_so_and_resolving_explains_what_follows() -> None:
    fixed = dataclasses.replace(GROUP, resolved_at=NOW)
    [line] = text.errors_lines([fixed])
    assert line.startswith("3f2a9c0d1e4b5a69  ×37") and line.endswith(
        "[fixed 2026-01-24 03:00 UTC]")
    assert "regression" in text.resolution_text(Resolution(fixed, "cli:ana"))
    assert text.errors_lines([]) == ["no errors recorded"]


@pytest.mark.parametrize(("trigger", "old_pid", "expected"), [
    (Trigger.START, None, "started (start, by watchdog): why — pid 43 in 0.5s"),
    (Trigger.OPERATOR, None, "started (operator, by cli:ana): why — pid 43 in 0.5s"),
    (Trigger.OPERATOR, 42, "restarted (operator, by cli:ana): why — pid 42 → 43 in 0.5s"),
])
def test_a_start_after_a_stop_is_not_called_a_restart(trigger: Trigger, old_pid: int | None,
                                                       expected: str) -> None:
    who = "watchdog" if trigger is Trigger.START else "cli:ana"
    report = RestartReport("remi", "why", trigger, who, True, NOW, 0.5, old_pid, 43)
    assert text.restart_summary(report) == expected


BLOCKED_EVIDENCE = ("Blocked in fetch_track_sync (soundcloud.py:42)\nRemi's frames (innermost "
                    "first):\n  fetch_track_sync (soundcloud.py:42)\n\nFull stack:\n…")


def test_history_is_a_logbook_with_the_blocking_call_and_the_full_evidence() -> None:
    stop = history_of_action(AuditEntry(7, NOW, "cli:alice", "stop", "remi",
                                        {"reason": "deploy"}, "remi: stopped", True, 0.1))
    hang = history_of_restart(RestartReport("remi", "event loop blocked for 60s", Trigger.HANG,
                                            "watchdog", True, NOW, 2.0, old_pid=1, new_pid=2,
                                            evidence=redact_patterns(BLOCKED_EVIDENCE)))
    lines = text.history_lines([stop, hang])
    assert lines[0].endswith("stop by cli:alice: deploy")
    assert lines[1].endswith("restart (hang): event loop blocked for 60s")
    assert lines[2].strip() == "Blocked in fetch_track_sync (soundcloud.py:42)"
    assert "Blocked in fetch_track_sync" in text.history_detail(hang)
    assert "Full stack:" in text.history_evidence([stop, hang])
    assert text.history_evidence([stop]) == ""
    assert text.evidence_headline("no frames here") == ""
