"""A check reads the beacon and looks for ``.git`` only after a file event for them (or
once the safety interval passed): real files, real inotify, a real watch's observer."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from remi_ops.watch.fileevents import FileEvents
from remi_ops.watch.filegate import SETTLED_REUSE_S, FileGate, gate_observer
from remi_ops.watch.gatedlook import GatedLook
from tests.remi_ops.watch.test_fileevents import until
from tests.remi_ops.watch.test_restart_count import attached_watch

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="file events come from inotify (Linux)")


def beacon_text(pid: int) -> str:
    now = time.time()
    return json.dumps({"schema": 1, "pid": pid, "written_at": now, "last_beat_at": now,
                       "loop_lag_s": 0.0, "max_lag_s": 0.0, "interval_s": 2.0,
                       "blocked_for_s": 0.0, "stuck_stack": None})


def write_as_remi_does(path: Path, pid: int) -> None:
    """A temp file beside it, renamed over it (``remi_ops.beacon``'s writer)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(beacon_text(pid), encoding="utf-8")
    os.replace(tmp, path)


def write_behind_its_back(tmp_path: Path, path: Path, pid: int) -> None:
    """Rewrite it in place through a hard link in a folder nobody watches: no event."""
    other = tmp_path / "elsewhere"
    other.mkdir(exist_ok=True)
    link = other / path.name
    if link.exists():
        link.unlink()
    os.link(path, link)
    with open(link, "r+", encoding="utf-8") as f:
        f.truncate(0)
        f.write(beacon_text(pid))


async def test_the_beacon_is_read_again_only_after_an_event_or_the_safety_interval(
        tmp_path: Path) -> None:
    made = attached_watch(tmp_path)
    observer = made.watch.observer
    beacon = observer.target.beacon_file
    write_as_remi_does(beacon, 1)
    files = FileEvents()
    gate_observer(files, observer)
    files.start()
    try:
        gate = observer.beacon_look.gate
        assert isinstance(gate, FileGate) and gate.active

        def pid() -> int | None:
            reading = observer.beacon()
            return reading.pid if reading else None

        assert pid() == 1
        write_behind_its_back(tmp_path, beacon, 2)  # no event: the last reading stands
        assert pid() == 1
        time.sleep(SETTLED_REUSE_S)  # a later check (see test_filegate)
        write_as_remi_does(beacon, 3)  # an event: read again
        assert pid() == 3
        await until(lambda: not files.counts.pending())  # the loop read those events
        assert pid() == 3  # (looked at once more: they came after the last look's mark)
        write_behind_its_back(tmp_path, beacon, 4)
        assert pid() == 3
        gate.safety_s = 0.0  # the safety look is due: read anyway
        assert pid() == 4
    finally:
        files.close()
        made.store.close()


async def test_a_git_checkout_that_appears_is_seen_at_the_next_look(tmp_path: Path) -> None:
    made = attached_watch(tmp_path)
    observer = made.watch.observer
    files = FileEvents()
    gate_observer(files, observer)
    files.start()
    try:
        assert observer.code() is None
        git = observer.target.workdir / ".git"
        git.mkdir()
        (git / "HEAD").write_text("a" * 40 + "\n", encoding="utf-8")
        code = observer.code()
        assert code is not None and code.commit == "a" * 40
    finally:
        files.close()
        made.store.close()


async def test_a_quiet_look_is_made_once(tmp_path: Path) -> None:
    """Without an event, the answer is kept: no look (a ``stat``) per check."""
    looks: list[bool] = []
    git = tmp_path / ".git"

    def look() -> bool:
        looks.append(git.exists())
        return looks[-1]

    files = FileEvents()
    gated = GatedLook(look)
    gated.gate = files.gate([git])
    files.start()
    try:
        assert [gated.get() for _ in range(3)] == [False] * 3
        assert len(looks) == 1
        time.sleep(SETTLED_REUSE_S)  # a later check (see test_filegate)
        git.mkdir()
        assert gated.get() is True
        assert len(looks) == 2
    finally:
        files.close()
