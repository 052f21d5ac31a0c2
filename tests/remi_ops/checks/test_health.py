"""Health assessment: alive is not the same as working."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from remi_ops.checks.health import HealthAssessor, Observation
from remi_ops.checks.healthfile import read_health_file, write_health_file
from remi_ops.config import HealthSettings
from remi_ops.domain import (
    ErrorGroup,
    LogKind,
    LogRecord,
    ProcessIdentity,
    ProcessSnapshot,
    Status,
)
from remi_ops.logs.redact import redact_patterns

NOW = datetime(2026, 1, 24, 3, 0, tzinfo=UTC)
IDENT = ProcessIdentity(101, 1.0, ("python", "main.py"), "/r")


@dataclass(frozen=True)
class FakeBeacon:
    pid: int | None = 101
    age_s: float = 1.0
    blocked_for_s: float = 0.0
    loop_lag_s: float = 0.002
    stuck_stack: str | None = None
    beat_age_s: float = 0.0
    interval_s: float = 2.0


def snap(status: str = "sleeping", cpu: float = 1.0, rss_mb: float = 100,
         created: float | None = None) -> ProcessSnapshot:
    ident = IDENT if created is None else ProcessIdentity(101, created, IDENT.cmdline, "/r")
    return ProcessSnapshot(ident, status, cpu, int(rss_mb * 2**20), (), 3600.0)


def observe(**kw: Any) -> Observation:
    base: dict[str, Any] = {"target": "remi", "at": NOW, "supervisor_state": "running",
                               "expected_alive": True, "process": snap()}
    base.update(kw)
    return Observation(**base)


def assess(obs: Observation, **settings: Any) -> tuple[Status, list[str]]:
    report = HealthAssessor(HealthSettings(**settings)).assess(obs)
    return report.status, list(report.reasons)


def hang_record(seconds: float) -> LogRecord:
    return LogRecord(LogKind.HANG, "WARNING",
                     f"Shard ID None heartbeat blocked for more than {seconds:.0f} seconds.",
                     "discord.gateway", traceback='File "soundcloud.py", in fetch_track',
                     blocked_s=seconds)


@pytest.mark.parametrize(("obs", "status", "reason"), [
    (observe(), Status.HEALTHY, None),
    (observe(process=None), Status.DOWN, "not running"),
    (observe(process=snap("stopped")), Status.DOWN, "SIGSTOP"),
    (observe(beacon=FakeBeacon()), Status.HEALTHY, None),
    (observe(beacon=FakeBeacon(blocked_for_s=12)), Status.DEGRADED, "blocked for 12s"),
    (observe(beacon=FakeBeacon(blocked_for_s=75)), Status.DOWN, "blocked for 75s"),
    (observe(beacon=FakeBeacon(age_s=90)), Status.DOWN, "blocked for 90s"),
    (observe(beacon=FakeBeacon(pid=7, blocked_for_s=900)), Status.HEALTHY, None),
    (observe(records=(hang_record(10),)), Status.DEGRADED, "blocked for 10s"),
    (observe(records=(hang_record(850),)), Status.DOWN, "blocked for 850s"),
    (observe(records=(LogRecord(LogKind.FATAL_CONFIG, "ERROR", "Improper token passed."),)),
     Status.DOWN, "cannot fix"),
    (observe(duplicates=(IDENT, ProcessIdentity(102, 2.0, ("python", "main.py"), "/r"))),
     Status.DEGRADED, "2 copies"),
    # not running on purpose is still not healthy (said at INFO: no "down" alert)
    (observe(process=None, supervisor_state="maintenance", expected_alive=False), Status.DOWN,
     "not running (maintenance)"),
    (observe(process=None, supervisor_state="stopped", expected_alive=False), Status.DOWN,
     "not running (stopped)"),
    (observe(process=None, supervisor_state="starting", expected_alive=False),
     Status.HEALTHY, None),
    (observe(records=(LogRecord(LogKind.FATAL_CONFIG, "ERROR", "Improper token passed.",
                                at=datetime(1970, 1, 1, tzinfo=UTC)),),
             process=snap(created=NOW.timestamp())), Status.HEALTHY, None),
])
def test_assessment_table(obs: Observation, status: Status, reason: str | None) -> None:
    """Each observation maps to the status and reason an on-call engineer would give."""
    got_status, reasons = assess(obs)
    assert got_status is status
    if reason:
        assert any(reason in r for r in reasons), reasons
    else:
        assert reasons == []


def test_the_incident_is_not_healthy() -> None:
    """The seed incident: alive PID, loop blocked 850 s, NameError in scoring → down."""
    group = ErrorGroup("abc", "remi", redact_patterns("NameError: name 'asyncio' is not defined"),
                       LogKind.CRASH, 1, NOW, NOW, redact_patterns("Traceback…"),
                       "scoring_async.py in score_batch_async")
    status, reasons = assess(observe(records=(hang_record(850),), new_groups=(group,)))
    assert status is Status.DOWN
    assert any("NameError" in r for r in reasons)


def test_cpu_threshold_must_hold_for_n_checks() -> None:
    """One CPU spike is not a finding; three checks in a row are."""
    assessor = HealthAssessor(HealthSettings(cpu_percent_max=80, sustained_checks=3))
    statuses = [assessor.assess(observe(process=snap(cpu=99))).status for _ in range(3)]
    assert statuses == [Status.HEALTHY, Status.HEALTHY, Status.DEGRADED]
    assert assessor.assess(observe(process=snap(cpu=5))).status is Status.HEALTHY


def test_error_burst() -> None:
    """Many errors in one check are a burst even when they are one known group."""
    records = tuple(LogRecord(LogKind.ERROR, "ERROR", f"boom {i}") for i in range(10))
    status, reasons = assess(observe(records=records), error_burst=10)
    assert status is Status.DEGRADED and "error burst" in reasons[0]


def test_health_file_is_written_atomically_with_the_watcher_heartbeat(tmp_path: Path) -> None:
    """.bot_health is one JSON object with a schema and the watcher's heartbeat."""
    report = HealthAssessor(HealthSettings()).assess(observe(process=None))
    path = tmp_path / ".bot_health"
    write_health_file(path, report, watcher_pid=55, watcher_beat=NOW, check_interval_s=60)
    doc = read_health_file(path)
    assert doc is not None
    assert doc["schema"] == 1 and doc["status"] == "down" and doc["watcher"]["pid"] == 55
    assert [p.name for p in tmp_path.iterdir()] == [".bot_health"]  # no temp file left
    json.loads(path.read_text())
    path.write_text("{garbled")
    assert read_health_file(path) is None
