"""A check looks at a log only after a file event for it (or its ``.1``) or once the safety
interval passed: real files, real inotify, the real tailer. Rotated, truncated and
replaced logs are still read right; where no event can come the tailer looks each time;
the watcher's own writes beside the logs are dropped before they cost anything."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from remi_ops.checks.healthbeat import HealthFileKeeper
from remi_ops.domain import HealthReport, Status
from remi_ops.host.inotify import Names, open_inotify
from remi_ops.logs.tail import Tailer
from remi_ops.watch.fileevents import FileEvents
from remi_ops.watch.filegate import SETTLED_REUSE_S, EventCounts, FileGate
from tests.remi_ops.watch.test_fileevents import until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="file events come from inotify (Linux)")


def gated(tmp_path: Path, files: FileEvents, name: str = "bot.log") -> tuple[Tailer, Path]:
    """A tailer of ``logs/<name>`` (written already) with a gate on it and its ``.1``."""
    folder = tmp_path / "logs"
    folder.mkdir(exist_ok=True)
    log = folder / name
    log.write_bytes(b"first\n")
    tailer = Tailer(log)
    tailer.gate = files.gate([log, log.with_name(log.name + ".1")])
    return tailer, log


Watched = tuple[FileEvents, Tailer, Path]


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[Watched]:
    """A gated tailer of ``bot.log`` with file events started; closed after the test."""
    files = FileEvents()
    tailer, log = gated(tmp_path, files)
    files.start()
    try:
        yield files, tailer, log
    finally:
        files.close()



def lines(tailer: Tailer) -> list[str]:
    return tailer.read_new().lines


def append_behind_its_back(tmp_path: Path, log: Path, data: bytes) -> None:
    """Append through a hard link in a folder nobody watches: no event in the log's."""
    other = tmp_path / "elsewhere"
    other.mkdir(exist_ok=True)
    link = other / log.name
    if not link.exists():
        os.link(log, link)
    with open(link, "ab") as f:
        f.write(data)


async def test_a_quiet_log_is_not_looked_at_until_an_event_or_the_safety_interval(
        tmp_path: Path, watched: Watched) -> None:
    files, tailer, log = watched
    gate = tailer.gate
    assert isinstance(gate, FileGate) and gate.active
    assert lines(tailer) == ["first"]
    # a write inotify cannot see (through a link elsewhere): no stat, so not seen...
    append_behind_its_back(tmp_path, log, b"behind\n")
    assert tailer.nothing_new() is not None and lines(tailer) == []
    # ...until an event comes for the log (here a write through its own folder; in a
    # later check: one that came within SETTLED_REUSE_S of the last look counts as
    # after it)
    time.sleep(SETTLED_REUSE_S)
    with open(log, "ab") as f:
        f.write(b"seen\n")
    assert tailer.nothing_new() is None
    assert lines(tailer) == ["behind", "seen"]
    await until(lambda: not files.counts.pending())  # the loop read those events
    assert lines(tailer) == []
    # or until the safety interval passed: then it is looked at (a stat) anyway
    append_behind_its_back(tmp_path, log, b"late\n")
    assert lines(tailer) == []
    gate.safety_s = 0.0
    assert lines(tailer) == ["late"]


async def test_without_file_events_the_log_is_looked_at_every_time(tmp_path: Path) -> None:
    files = FileEvents()  # never started: as on macOS, or with the watch table full
    tailer, log = gated(tmp_path, files)
    assert lines(tailer) == ["first"]
    append_behind_its_back(tmp_path, log, b"behind\n")
    assert tailer.nothing_new() is None
    assert lines(tailer) == ["behind"]


async def test_rotated_truncated_and_replaced_logs_are_read_right_with_the_gate(
        watched: Watched) -> None:
    _, tailer, log = watched
    assert lines(tailer) == ["first"]
    with open(log, "ab") as f:
        f.write(b"before rotation\n")
    log.rename(log.with_name("bot.log.1"))  # rename rotation, then a new log
    log.write_bytes(b"new file\n")
    assert lines(tailer) == ["before rotation", "new file"]
    assert lines(tailer) == []
    # truncated and regrown to the same size: the mtime and the head tell
    log.write_bytes(b"NEW FILE\n")
    assert lines(tailer) == ["NEW FILE"]
    # replaced by another file renamed onto it (an atomic replace)
    spare = log.with_name("incoming")
    spare.write_bytes(b"replaced\n")
    spare.replace(log)
    assert lines(tailer) == ["replaced"]
    assert lines(tailer) == []
    # emptied by a copytruncate whose copy lands in .1: the copy is read
    with open(log, "ab") as f:
        f.write(b"copied\n")
    copy = log.with_name("bot.log.1")
    copy.unlink()
    copy.write_bytes(log.read_bytes())
    os.truncate(log, 0)
    assert "copied" in lines(tailer)


async def test_an_overflow_or_a_lost_folder_makes_the_tailer_look(
        tmp_path: Path, watched: Watched) -> None:
    files, tailer, log = watched
    assert lines(tailer) == ["first"]
    append_behind_its_back(tmp_path, log, b"behind\n")
    assert lines(tailer) == []
    files.counts.lost()  # what a queue overflow does
    assert lines(tailer) == ["behind"]
    append_behind_its_back(tmp_path, log, b"after close\n")
    files.close()  # no events any more: every look is a stat
    assert lines(tailer) == ["after close"]


NOW = datetime(2026, 1, 24, 3, 0, tzinfo=UTC)


def test_the_watchers_own_files_are_dropped_before_a_path_is_made(tmp_path: Path) -> None:
    inotify = open_inotify()
    assert inotify is not None
    try:
        assert inotify.watch_folder(tmp_path, Names(frozenset({b"bot.log", b"bot.log.1"})))
        keeper = HealthFileKeeper(tmp_path / ".bot_health")
        healthy = HealthReport(target="remi", status=Status.HEALTHY, checked_at=NOW,
                               findings=(), supervisor_state="running")
        for i in range(3):
            keeper.keep(healthy, watcher_pid=1, watcher_beat=NOW + timedelta(seconds=i),
                        check_interval_s=60, rewrite_after_s=0)  # rewritten every time
        (tmp_path / ".bot_alert").write_text("{}\n")
        assert inotify.read() == set()
        (tmp_path / "bot.log").write_text("x\n")
        assert inotify.read() == {tmp_path / "bot.log"}
    finally:
        inotify.close()


def test_a_quiet_checks_touch_of_bot_health_is_no_file_event(tmp_path: Path) -> None:
    """Even in a folder where every name is wanted, touching ``.bot_health`` (what a check
    that found nothing new does) makes no event: nothing wakes the watcher's reader."""
    keeper = HealthFileKeeper(tmp_path / ".bot_health")
    healthy = HealthReport(target="remi", status=Status.HEALTHY, checked_at=NOW,
                           findings=(), supervisor_state="running")
    keeper.keep(healthy, watcher_pid=1, watcher_beat=NOW, check_interval_s=60,
                rewrite_after_s=90)
    inotify = open_inotify()
    assert inotify is not None
    try:
        assert inotify.watch_folder(tmp_path)
        for i in range(1, 4):
            assert keeper.keep(healthy, watcher_pid=1, watcher_beat=NOW + timedelta(seconds=i),
                               check_interval_s=60, rewrite_after_s=90) is False
        assert inotify.read() == set()
    finally:
        inotify.close()


async def test_a_folder_of_the_gate_that_goes_away_makes_it_inactive(watched: Watched) -> None:
    _, tailer, log = watched
    gate = tailer.gate
    assert isinstance(gate, FileGate) and gate.active
    for p in log.parent.iterdir():
        p.unlink()
    log.parent.rmdir()
    await until(lambda: not gate.active)
    assert gate.mark() is None


class CountedCounts(EventCounts):
    """The watcher's event counts with their ``select``s counted."""

    def __init__(self) -> None:
        super().__init__()
        self.selects = 0

    def pending(self) -> bool:
        self.selects += 1
        return super().pending()


async def test_the_gates_of_one_check_share_one_select(tmp_path: Path) -> None:
    """A check asks four gates one after the other: one ``select`` answers them all; a
    gate whose look began after that ``select`` asks again."""
    files = FileEvents()
    counts = files.counts = CountedCounts()
    (tmp_path / "a").write_bytes(b"")
    (tmp_path / "b").write_bytes(b"")
    gates = [files.gate([tmp_path / "a"]), files.gate([tmp_path / "b"])]
    files.start()
    try:
        marks = [g.mark() for g in gates]
        assert all(g.quiet_since(m) for g, m in zip(gates, marks, strict=True))
        assert counts.selects == 1
        later = gates[0].mark()
        assert gates[0].quiet_since(later)
        assert counts.selects == 2
        (tmp_path / "b").write_bytes(b"written\n")  # an event: still seen
        assert not gates[1].quiet_since(gates[1].mark())
    finally:
        files.close()
