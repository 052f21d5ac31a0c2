"""``.bot_health`` is rewritten when it says something new; a check that finds nothing new
moves only its mtime, and the heartbeat read back (``read_health_file``) moves with it."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from remi_ops.checks.healthbeat import HealthFileKeeper, keeper_for, let_go, what_it_says
from remi_ops.checks.healthfile import read_health_file, write_health_file
from remi_ops.domain import Check, Finding, HealthReport, ProcessIdentity, ProcessSnapshot, Status
from remi_ops.host.swap import CAN_EXCHANGE

NOW = datetime(2026, 1, 24, 3, 0, tzinfo=UTC)
#: half of the default ``heartbeat_stale_s`` (180 s), as a watcher uses it
REWRITE_AFTER_S = 90.0


def report(at: datetime, status: Status = Status.HEALTHY, uptime_s: float = 10.0,
           findings: tuple[Finding, ...] = ()) -> HealthReport:
    ident = ProcessIdentity(pid=4242, create_time=1.0, cmdline=("remi",))
    process = ProcessSnapshot(identity=ident, status="sleeping", cpu_percent=0.3,
                              rss_bytes=50 * 2**20, uptime_s=uptime_s, children=())
    return HealthReport(target="remi", status=status, checked_at=at, findings=findings,
                        supervisor_state="running", process=process, beacon_age_s=2.0,
                        loop_lag_s=0.01)


def keep(keeper: HealthFileKeeper, at: datetime, **kwargs: object) -> bool:
    return keeper.keep(report(at, **kwargs),  # type: ignore[arg-type]
                       watcher_pid=55, watcher_beat=at, check_interval_s=60,
                       rewrite_after_s=REWRITE_AFTER_S)


def raw(path: Path) -> dict[str, object]:
    doc: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def beat_read_back(path: Path) -> str:
    doc = read_health_file(path)
    assert doc is not None
    return str(doc["watcher"]["heartbeat_at"])


def test_a_check_with_nothing_new_moves_only_the_mtime_and_the_heartbeat_read_back(
        tmp_path: Path) -> None:
    path = tmp_path / ".bot_health"
    keeper = HealthFileKeeper(path)
    assert keep(keeper, NOW) is True
    written = path.read_bytes()
    later = NOW + timedelta(seconds=60)
    # the measurements moved (uptime), what the file says did not
    assert keep(keeper, later, uptime_s=70.0) is False
    assert path.read_bytes() == written  # not a byte rewritten
    assert raw(path)["checked_at"] == NOW.isoformat()
    assert path.stat().st_mtime_ns == int(later.timestamp()) * 10**9
    assert beat_read_back(path) == later.isoformat()  # presence sees every check
    read_back = read_health_file(path)
    assert read_back is not None and read_back["checked_at"] == later.isoformat()  # status


def test_a_new_status_or_finding_is_written_at_once(tmp_path: Path) -> None:
    path = tmp_path / ".bot_health"
    keeper = HealthFileKeeper(path)
    keep(keeper, NOW)
    at = NOW + timedelta(seconds=60)
    hung = (Finding(Check.EVENT_LOOP, Status.DEGRADED, "event loop blocked 12 s"),)
    assert keep(keeper, at, status=Status.DEGRADED, findings=hung) is True
    doc = raw(path)
    assert doc["status"] == "degraded" and doc["checked_at"] == at.isoformat()
    assert [f["summary"] for f in doc["findings"]] == ["event loop blocked 12 s"]  # type: ignore[attr-defined]
    assert keep(keeper, at + timedelta(seconds=60)) is True  # and healthy again, at once
    assert raw(path)["status"] == "healthy"


def test_the_measurements_are_rewritten_once_older_than_rewrite_after_s(
        tmp_path: Path) -> None:
    path = tmp_path / ".bot_health"
    keeper = HealthFileKeeper(path)
    keep(keeper, NOW)
    assert keep(keeper, NOW + timedelta(seconds=60), uptime_s=70.0) is False
    assert keep(keeper, NOW + timedelta(seconds=120), uptime_s=130.0) is True
    doc = raw(path)
    assert doc["process"]["uptime_s"] == 130.0  # type: ignore[index]
    assert doc["watcher"]["heartbeat_at"] == (NOW + timedelta(seconds=120)).isoformat()  # type: ignore[index]


@pytest.mark.parametrize("meddle", ["removed", "rewritten", "replaced"])
def test_a_file_someone_else_changed_is_rewritten_not_touched(tmp_path: Path,
                                                              meddle: str) -> None:
    path = tmp_path / ".bot_health"
    keeper = HealthFileKeeper(path)
    keep(keeper, NOW)
    if meddle == "removed":
        path.unlink()
    elif meddle == "rewritten":
        path.write_text("{}\n", encoding="utf-8")
    else:
        other = tmp_path / "other"
        other.write_bytes(path.read_bytes())
        other.replace(path)
    assert keep(keeper, NOW + timedelta(seconds=60)) is True
    assert raw(path)["checked_at"] == (NOW + timedelta(seconds=60)).isoformat()


def test_a_document_that_does_not_say_so_keeps_its_own_heartbeat(tmp_path: Path) -> None:
    """An older watcher's file (or a hand-written one) touched later is not a heartbeat."""
    path = tmp_path / ".bot_health"
    write_health_file(path, report(NOW), watcher_pid=55, watcher_beat=NOW,
                      check_interval_s=60)
    later = NOW + timedelta(seconds=600)
    os.utime(path, (later.timestamp(), later.timestamp()))
    assert beat_read_back(path) == NOW.isoformat()


def test_a_change_of_watcher_is_written(tmp_path: Path) -> None:
    path = tmp_path / ".bot_health"
    keeper = HealthFileKeeper(path)
    keep(keeper, NOW)
    assert keeper.keep(report(NOW), watcher_pid=56, watcher_beat=NOW + timedelta(seconds=1),
                       check_interval_s=60, rewrite_after_s=REWRITE_AFTER_S) is True
    assert raw(path)["watcher"]["pid"] == 56  # type: ignore[index]


@pytest.mark.skipif(not CAN_EXCHANGE, reason="no renameat2 exchange here: no spare")
def test_a_clean_stop_removes_the_spare_and_keeps_the_status_file(tmp_path: Path) -> None:
    path = tmp_path / ".bot_health"
    keeper = keeper_for(path)
    keep(keeper, NOW)
    keep(keeper, NOW + timedelta(seconds=1), status=Status.DEGRADED)  # the exchange's pair
    assert sorted(p.name for p in tmp_path.iterdir()) == [".bot_health", ".bot_health.spare"]
    let_go(path)
    assert [p.name for p in tmp_path.iterdir()] == [".bot_health"]
    assert raw(path)["status"] == "degraded"
    assert keeper_for(path) is not keeper  # a later watcher here rewrites first
    assert keep(keeper_for(path), NOW + timedelta(seconds=2), status=Status.DEGRADED) is True


def test_the_measurements_do_not_count_as_news() -> None:
    a = report(NOW)
    b = dataclasses.replace(report(NOW + timedelta(seconds=5), uptime_s=99.0),
                            beacon_age_s=7.0, loop_lag_s=0.2)
    assert what_it_says(a) == what_it_says(b)
    assert what_it_says(a) != what_it_says(dataclasses.replace(a, beacon_age_s=None))
