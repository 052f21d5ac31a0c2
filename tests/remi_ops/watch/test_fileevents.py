"""File changes wake the right loop (real files, real inotify); a missed one is caught by
the safety poll; where no event can come the loop polls as before."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from remi_ops.atomicfile import write_json_atomically
from remi_ops.watch import fileevents, loops
from remi_ops.watch.fileevents import FileEvents, Wake

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="file events come from inotify (Linux)")


async def until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait for ``predicate`` (a generous bound: this is not a timing test)."""
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(poll(), timeout_s)


def folders(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    return a, b


async def test_a_write_wakes_the_target_whose_file_changed_and_no_other(tmp_path: Path) -> None:
    a, b = folders(tmp_path)
    files = FileEvents()
    wake_a = files.for_files([a / "bot_error.log", a / ".remi_beacon.json"])
    wake_b = files.for_files([b / "bot_error.log", b / ".remi_beacon.json"])
    files.start()
    try:
        assert wake_a.watched and wake_b.watched
        (a / "bot_error.log").write_text("Traceback (most recent call last):\n")
        await until(wake_a.event.is_set)
        write_json_atomically(a / ".remi_beacon.json", {"schema": 1})  # replaced, not written
        (a / "unrelated.txt").write_text("x")
        await asyncio.sleep(0.2)
        assert not wake_b.event.is_set()
        wake_a.event.clear()
        write_json_atomically(b / ".remi_beacon.json", {"schema": 1})
        await until(wake_b.event.is_set)
    finally:
        files.close()


async def test_the_spool_wakes_on_requests_only(tmp_path: Path) -> None:
    spool, _ = folders(tmp_path)
    files = FileEvents()
    wake = files.for_folder(spool, ".request.json")
    files.start()
    try:
        (spool / "1.answer.json").write_text("{}")
        await asyncio.sleep(0.2)
        assert not wake.event.is_set()
        write_json_atomically(spool / "1.request.json", {"id": "1"})
        await until(wake.event.is_set)
    finally:
        files.close()


async def test_a_change_runs_the_step_without_waiting_for_the_safety_poll(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fileevents, "SAFETY_POLL_S", 3600.0)
    monkeypatch.setattr(loops, "CHANGE_MIN_GAP_S", 0.0)
    a, _ = folders(tmp_path)
    files = FileEvents()
    wake = files.for_files([a / "bot_error.log"])
    steps: list[int] = []

    async def step() -> None:
        steps.append(1)

    stopping = asyncio.Event()
    files.start()
    task = asyncio.create_task(loops.on_change(wake, stopping, step, "probe"))
    try:
        await until(lambda: len(steps) == 1)
        (a / "bot_error.log").write_text("line\n")
        await until(lambda: len(steps) == 2)
    finally:
        stopping.set()
        await asyncio.wait_for(task, 5)
        files.close()


async def test_a_missed_event_is_caught_by_the_safety_poll(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The event is swallowed before the loop sees it; the safety poll runs the step."""
    monkeypatch.setattr(fileevents, "SAFETY_POLL_S", 0.5)
    a, _ = folders(tmp_path)
    files = FileEvents()
    log = a / "bot_error.log"
    wake = files.for_files([log])
    seen: list[str] = []

    async def step() -> None:
        seen.append(log.read_text() if log.exists() else "")

    stopping = asyncio.Event()
    files.start()
    task = asyncio.create_task(loops.on_change(wake, stopping, step, "probe"))
    try:
        await until(lambda: len(seen) == 1)
        log.write_text("Traceback\n")
        assert files._inotify is not None
        await until(lambda: bool(files._inotify and files._inotify.read()))  # swallowed
        assert not wake.event.is_set()
        await until(lambda: "Traceback\n" in seen)
    finally:
        stopping.set()
        await asyncio.wait_for(task, 5)
        files.close()


async def test_a_folder_that_goes_away_is_polled_at_the_old_cadence(tmp_path: Path) -> None:
    a, b = folders(tmp_path)
    files = FileEvents()
    gone, kept = files.for_files([a / "bot_error.log"]), files.for_files([b / "bot_error.log"])
    missing = files.for_files([tmp_path / "not-yet" / "bot_error.log"])
    files.start()
    try:
        assert not missing.watched and missing.poll_s == fileevents.POLL_S
        assert gone.poll_s == kept.poll_s == fileevents.SAFETY_POLL_S
        os.rmdir(a)
        await until(gone.event.is_set)
        assert not gone.watched and gone.poll_s == fileevents.POLL_S
        assert kept.watched
    finally:
        files.close()


async def test_without_inotify_every_loop_polls_as_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fileevents, "open_inotify", lambda: None)
    a, _ = folders(tmp_path)
    files = FileEvents()
    wake: Wake = files.for_files([a / "bot_error.log"])
    files.start()
    assert not wake.watched and wake.poll_s == fileevents.POLL_S


async def test_events_close_together_are_read_together_and_none_is_lost(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A round of checks rewrites many health files one after the other: the loop reads
    their events a few times, not once an event, and a log write among them still wakes
    its target."""
    monkeypatch.setattr(fileevents, "READ_GAP_S", 0.2)
    a, b = folders(tmp_path)
    files = FileEvents()
    wake = files.for_files([a / "bot_error.log"])
    files.for_files([b / "bot_error.log"])
    files.start()
    reads = 0
    inotify = files._inotify  # its reads are what is counted
    assert inotify is not None
    real_read = inotify.read

    def counted() -> set[Path]:
        nonlocal reads
        reads += 1
        return real_read()

    inotify.read = counted  # type: ignore[method-assign]  # counts, then reads
    try:
        for i in range(40):  # 0.15 s of writes, each one event or more
            write_json_atomically(b / f".health{i}", {"i": i})
            await asyncio.sleep(0.004)
        (a / "bot_error.log").write_text("Traceback (most recent call last):\n")
        await until(wake.event.is_set)
        assert 1 <= reads <= 3
    finally:
        files.close()
