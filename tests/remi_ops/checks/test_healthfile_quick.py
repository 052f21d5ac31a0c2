"""``.bot_health`` is rewritten by every check, so it is replaced without an fsync; a
reader still sees one whole document, the old one or the new one, and each write's
content (its heartbeat) arrives."""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from remi_ops.checks.healthfile import read_health_file, write_health_file
from remi_ops.domain import HealthReport, Status
from remi_ops.host.swap import CAN_EXCHANGE

NOW = datetime(2026, 1, 24, 3, 0, tzinfo=UTC)


def report(at: datetime) -> HealthReport:
    return HealthReport(target="remi", status=Status.HEALTHY, checked_at=at, findings=(),
                        supervisor_state="running")


def write(path: Path, beat: datetime) -> None:
    write_health_file(path, report(beat), watcher_pid=55, watcher_beat=beat,
                      check_interval_s=60)


def test_the_health_file_is_written_without_an_fsync(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk is the edge: an fsync here would cost a check more than all the rest."""
    def no_fsync(fd: int) -> None:
        raise AssertionError("a status file rewritten every check is not fsynced")

    monkeypatch.setattr(os, "fsync", no_fsync)
    path = tmp_path / ".bot_health"
    write(path, NOW)
    write(path, NOW + timedelta(seconds=60))
    doc = read_health_file(path)
    assert doc is not None
    assert doc["watcher"]["heartbeat_at"] == (NOW + timedelta(seconds=60)).isoformat()
    assert {p.name for p in tmp_path.iterdir()} <= {".bot_health", ".bot_health.spare"}
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0  # the watcher's user only


def test_a_reader_never_sees_half_a_document(tmp_path: Path) -> None:
    path = tmp_path / ".bot_health"
    write(path, NOW)
    done = threading.Event()
    torn: list[str] = []
    beats: set[str] = set()

    def read_all_the_time() -> None:
        while not done.is_set():
            text = path.read_text(encoding="utf-8")
            try:
                beats.add(json.loads(text)["watcher"]["heartbeat_at"])
            except ValueError:
                torn.append(text)

    reader = threading.Thread(target=read_all_the_time)
    reader.start()
    try:
        for i in range(1, 400):
            write(path, NOW + timedelta(seconds=i))
    finally:
        done.set()
        reader.join()
    assert torn == []
    assert len(beats) > 1  # the reader did see the file change under it
    doc = read_health_file(path)
    assert doc is not None and doc["checked_at"] == (NOW + timedelta(seconds=399)).isoformat()


def test_the_folder_is_made_when_missing(tmp_path: Path) -> None:
    path = tmp_path / "state" / ".bot_health"
    write(path, NOW)
    assert read_health_file(path) is not None


@pytest.mark.skipif(not CAN_EXCHANGE, reason="no renameat2 exchange here")
def test_the_file_and_its_spare_are_exchanged_for_ever(tmp_path: Path) -> None:
    """After the first writes, every check writes into the spare and swaps the two names:
    no file is created or unlinked, so the folder keeps the same two inodes; the spare
    is written over in place, and a shorter document leaves no tail of a longer one."""
    path = tmp_path / ".bot_health"
    long = HealthReport(target="r" * 3000, status=Status.HEALTHY, checked_at=NOW,
                        findings=(), supervisor_state="running")
    write_health_file(path, long, watcher_pid=55, watcher_beat=NOW, check_interval_s=60)
    write_health_file(path, long, watcher_pid=55, watcher_beat=NOW, check_interval_s=60)
    pair = {p.name: p.stat().st_ino for p in tmp_path.iterdir()}
    assert sorted(pair) == [".bot_health", ".bot_health.spare"]
    for i in range(2, 50):
        write(path, NOW + timedelta(seconds=i))
        assert {p.stat().st_ino for p in tmp_path.iterdir()} == set(pair.values())
        doc = read_health_file(path)
        assert doc is not None and doc["checked_at"] == (NOW + timedelta(seconds=i)).isoformat()
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0

