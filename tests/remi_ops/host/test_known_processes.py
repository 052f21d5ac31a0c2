"""The shared table's passes read a process's argv once, with real processes: a pid seen
before costs its ``stat`` only, a copy started between passes is found, and a process
that executes another program (same pid, same start time) is read again."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest
from bubabot_local.simkit import SLEEPER, bot_target, start_by_hand

from remi_ops import host
from remi_ops.host import known_processes as known_module
from remi_ops.host import proctable
from remi_ops.host.known_processes import KnownProcesses
from remi_ops.host.proctable import ProcessTable, shared_table
from remi_ops.testing import wait_until

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")]

PY = sys.executable


class CountedReads(KnownProcesses):
    """The real cache, with the pids whose ``cmdline`` it read written down."""

    def __init__(self) -> None:
        super().__init__()
        self.read_pids: list[int] = []

    def _cmdline(self, pid: int) -> tuple[str, ...] | None:
        self.read_pids.append(pid)
        return super()._cmdline(pid)


@pytest.fixture
def known(monkeypatch: pytest.MonkeyPatch) -> CountedReads:
    cache = CountedReads()
    monkeypatch.setattr(proctable._SHARED, "known", cache)
    monkeypatch.setattr(proctable._SHARED, "table", None)
    return cache


def settled(pid: int) -> bool:
    """Past the fork → exec window the cache re-reads every pass."""
    return time.time() - psutil.Process(pid).create_time() > known_module.YOUNG_S + 0.2


def test_a_pid_seen_before_is_not_read_again(tmp_path: Path, known: CountedReads) -> None:
    target = bot_target(tmp_path / "remi", SLEEPER)
    pid = start_by_hand(target.workdir, PY, "bot.py")
    wait_until(lambda: settled(pid), timeout=10)
    assert [i.pid for i in host.find_target_processes(target, shared=True)] == [pid]
    assert pid in known.read_pids
    known.read_pids.clear()
    again = shared_table(max_age_s=0.0)
    assert [m.ident.pid for m in again.matches(target.command,
                                               target.workdir.resolve())] == [pid]
    assert pid not in known.read_pids
    assert pid in again.parents


def test_the_argvs_a_pass_reads_are_those_psutil_reads(known: CountedReads) -> None:
    """The cache's own /proc reader agrees with psutil on every process both see."""
    table = ProcessTable.take_known(known)
    rows = {row.pid: row for rows in table._by_argv.values() for row in rows}
    compared = 0
    for pid, row in rows.items():
        try:
            proc = psutil.Process(pid)
            argv, created = tuple(proc.cmdline()), proc.create_time()
        except psutil.Error:
            continue
        assert row.cmdline == argv
        assert abs(row.created - created) < 0.05
        compared += 1
    assert compared > 3


def test_a_copy_started_between_passes_is_found(tmp_path: Path, known: CountedReads) -> None:
    target = bot_target(tmp_path / "remi", SLEEPER)
    first = start_by_hand(target.workdir, PY, "bot.py")
    wait_until(lambda: settled(first), timeout=10)
    shared_table(max_age_s=0.0)
    second = start_by_hand(target.workdir, PY, "bot.py")
    fresh = shared_table(max_age_s=0.0)
    assert [m.ident.pid for m in fresh.matches(target.command, target.workdir.resolve())
            ] == [first, second]
    assert [i.pid for i in host.find_target_processes(target, shared=True)] == [first, second]


def test_a_process_that_executes_another_program_is_read_again(
        tmp_path: Path, known: CountedReads) -> None:
    """``start.sh`` that ends in ``exec python bot.py``: same pid and start time, another
    name; once past the young window the name tells the cache to read the argv again."""
    target = bot_target(tmp_path / "remi", SLEEPER)
    wrapper = target.workdir / "wrapper.py"
    wrapper.write_text(
        "import os, sys, time\n"
        "while not os.path.exists('go'):\n"
        "    time.sleep(0.05)\n"
        f"os.execv({'/bin/sh'!r}, ['/bin/sh', '-c', 'exec {PY} bot.py'])\n",
        encoding="utf-8")
    pid = start_by_hand(target.workdir, PY, "wrapper.py")
    try:
        wait_until(lambda: settled(pid), timeout=10)
        shared_table(max_age_s=0.0)
        assert known.seen[pid].cmdline == (PY, "wrapper.py")
        (target.workdir / "go").touch()
        wait_until(lambda: psutil.Process(pid).cmdline() == [PY, "bot.py"], timeout=10)
        fresh = shared_table(max_age_s=0.0)
        assert [m.ident.pid for m in fresh.matches(target.command,
                                                   target.workdir.resolve())] == [pid]
    finally:
        os.kill(pid, signal.SIGKILL)


def test_a_long_held_argv_is_read_again(tmp_path: Path, known: CountedReads,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """What the name cannot tell (an exec of the same program with other arguments) is
    bounded by ``REREAD_S``."""
    target = bot_target(tmp_path / "remi", SLEEPER)
    pid = start_by_hand(target.workdir, PY, "bot.py")
    wait_until(lambda: settled(pid), timeout=10)
    shared_table(max_age_s=0.0)
    known.read_pids.clear()
    monkeypatch.setattr(known_module, "REREAD_S", 0.0)
    shared_table(max_age_s=0.0)
    assert pid in known.read_pids


def test_a_known_process_is_matched_without_reading_it_again(
        tmp_path: Path, known: CountedReads, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its cwd is read by each table, but its state came with the pass and its user is
    kept with its argv: no psutil look at it for the next tables."""
    target = bot_target(tmp_path / "remi", SLEEPER)
    pid = start_by_hand(target.workdir, PY, "bot.py")
    wait_until(lambda: settled(pid), timeout=10)
    first = shared_table(max_age_s=0.0)
    assert [m.uid for m in first.matches(target.command, target.workdir.resolve())
            ] == [os.getuid()]
    looked: list[str] = []
    real = psutil.Process

    class Counted(real):  # type: ignore[misc,valid-type]
        def status(self) -> str:
            looked.append("status")
            return str(super().status())

        def uids(self):  # type: ignore[no-untyped-def]
            looked.append("uids")
            return super().uids()

    known.seen[pid].handle = Counted(pid)
    again = shared_table(max_age_s=0.0)
    assert [m.ident.pid for m in again.matches(target.command, target.workdir.resolve())
            ] == [pid]
    assert looked == []
