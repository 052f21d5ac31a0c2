"""The process table the checks of a round share, with real processes: one pass for
many askers, each target finds its own, a copy that ended since the pass is not
reported, one started since is seen by the next pass, and an identity from an old pass
never lets a stop signal the process now behind its pid."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from bubabot_local.simkit import SLEEPER, bot_target, start_by_hand

from remi_ops import host
from remi_ops.config import TargetSettings
from remi_ops.host import proctable
from remi_ops.host.direct import DirectManager
from remi_ops.host.identity import CREATE_TIME_TOLERANCE_S
from remi_ops.host.known_processes import KnownProcesses, known_processes
from remi_ops.host.proctable import ProcessTable, shared_table
from remi_ops.testing import wait_until as wait_for

pytestmark = pytest.mark.integration

PY = sys.executable


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[ProcessTable]:
    """Every pass over the process table taken from now on (the shared one starts empty)."""
    taken: list[ProcessTable] = []
    take = ProcessTable.take.__func__  # type: ignore[attr-defined]
    take_known = ProcessTable.take_known.__func__  # type: ignore[attr-defined]

    def counted(cls: type[ProcessTable]) -> ProcessTable:
        table: ProcessTable = take(cls)
        taken.append(table)
        return table

    def counted_known(cls: type[ProcessTable], known: KnownProcesses) -> ProcessTable:
        table: ProcessTable = take_known(cls, known)
        taken.append(table)
        return table

    monkeypatch.setattr(ProcessTable, "take", classmethod(counted))
    monkeypatch.setattr(ProcessTable, "take_known", classmethod(counted_known))
    monkeypatch.setattr(proctable._SHARED, "table", None)
    monkeypatch.setattr(proctable._SHARED, "known", known_processes())
    return taken


def ended(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_askers_at_once_wait_for_one_pass(passes: list[ProcessTable]) -> None:
    start = threading.Barrier(8)
    got: list[ProcessTable] = []

    def ask() -> None:
        start.wait()
        got.append(shared_table())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(passes) == 1
    assert all(table is passes[0] for table in got)


def test_each_of_many_targets_with_one_argv_finds_its_own_from_one_pass(
        tmp_path: Path, passes: list[ProcessTable]) -> None:
    targets: list[tuple[TargetSettings, int]] = []
    for i in range(20):
        target = bot_target(tmp_path / f"remi{i:02}", SLEEPER)
        targets.append((target, start_by_hand(target.workdir, PY, "bot.py")))
    for target, pid in targets:
        assert [i.pid for i in host.find_target_processes(target, shared=True)] == [pid]
    assert len(passes) == 1
    table = passes[0]
    assert {pid for _, pid in targets} <= set(table.parents)


def test_a_copy_that_ended_since_the_pass_is_not_reported(
        tmp_path: Path, passes: list[ProcessTable]) -> None:
    target = bot_target(tmp_path / "remi", SLEEPER)
    first = start_by_hand(target.workdir, PY, "bot.py")
    second = start_by_hand(target.workdir, PY, "bot.py")
    assert [i.pid for i in host.find_target_processes(target, shared=True)] == [first, second]
    os.kill(second, signal.SIGKILL)
    wait_for(lambda: ended(second))
    assert [i.pid for i in host.find_target_processes(target, shared=True)] == [first]
    assert len(passes) == 1  # the same table: the re-check left the dead copy out


def test_a_copy_started_since_the_pass_is_seen_by_the_next(
        tmp_path: Path, passes: list[ProcessTable]) -> None:
    target = bot_target(tmp_path / "remi", SLEEPER)
    first = start_by_hand(target.workdir, PY, "bot.py")
    assert [i.pid for i in host.find_target_processes(target, shared=True)] == [first]
    second = start_by_hand(target.workdir, PY, "bot.py")
    fresh = shared_table(max_age_s=0.0)  # the next round's pass
    assert [m.ident.pid for m in fresh.matches(target.command,
                                               target.workdir.resolve())] == [first, second]
    assert [i.pid for i in host.find_target_processes(target, shared=True)] == [first, second]
    # what adopts or stops never waits for a round: a pass of its own
    assert [i.pid for i in host.find_target_processes(target)] == [first, second]


def test_an_identity_from_an_old_pass_never_signals_the_process_now_at_its_pid(
        tmp_path: Path, passes: list[ProcessTable]) -> None:
    """The pid of a copy seen by the shared table now belongs to another process with
    the same argv in the same workdir (a reused pid): a stop with the old identity finds
    nothing to do, and the process behind the pid lives on."""
    target = bot_target(tmp_path / "remi", SLEEPER)
    manager = DirectManager(target, tmp_path / "state")
    copy = start_by_hand(target.workdir, PY, "bot.py")
    [seen] = host.find_target_processes(target, shared=True)
    assert seen.pid == copy
    os.kill(copy, signal.SIGKILL)
    wait_for(lambda: ended(copy))
    time.sleep(CREATE_TIME_TOLERANCE_S + 0.2)  # a pid is reused long after, not within
    now_there = start_by_hand(target.workdir, PY, "bot.py")
    reused = dataclasses.replace(seen, pid=now_there)  # what a reused pid would look like
    result = manager.stop(reused, 0.2)
    assert not result.stopped
    assert psutil.Process(now_there).status() != psutil.STATUS_ZOMBIE


def test_descendants_come_from_the_table(tmp_path: Path, passes: list[ProcessTable]) -> None:
    code = """
    import os, time
    if os.fork() == 0:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        time.sleep(60)
        os._exit(0)
    time.sleep(60)
    """
    target = bot_target(tmp_path / "remi", code)
    pid = start_by_hand(target.workdir, PY, "bot.py")
    wait_for(lambda: len(psutil.Process(pid).children(recursive=True)) == 2)
    below = shared_table(max_age_s=0.0).descendants(pid)
    assert below == tuple(sorted(c.pid for c in psutil.Process(pid).children(recursive=True)))


def test_a_table_shared_for_a_quarter_interval_is_renewed_for_a_younger_process(
        tmp_path: Path, passes: list[ProcessTable], monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks share a table for a quarter of their interval; the children of a Remi that
    started after it was taken (a restart) come from a new pass, not from that table."""
    monkeypatch.setattr(proctable._SHARED, "max_age_s", proctable._SHARED.max_age_s)
    proctable.share_for(60.0)
    assert proctable._SHARED.max_age_s == 15.0
    code = """
    import os, time
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
    time.sleep(60)
    """
    first = shared_table()
    time.sleep(proctable.CREATE_TIME_MARGIN_S + 0.1)
    assert shared_table() is first  # younger than a quarter interval: shared
    target = bot_target(tmp_path / "remi", code)
    pid = start_by_hand(target.workdir, PY, "bot.py")
    wait_for(lambda: len(psutil.Process(pid).children()) == 1)
    started = psutil.Process(pid).create_time()
    renewed = shared_table(since=started)
    assert renewed is not first
    assert renewed.descendants(pid) == (psutil.Process(pid).children()[0].pid,)
