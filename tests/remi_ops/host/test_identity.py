"""Who a pid is, with real processes: identify, snapshot, a reused pid is never touched."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import psutil
import pytest
from bubabot_local.simkit import ONE_SHOT, SLEEPER, TREE, bot_target

from remi_ops import host
from remi_ops.domain import ProcessIdentity
from remi_ops.host import identity, proc_stat, shared_look
from remi_ops.host.proc_stat import StatLine
from remi_ops.testing import wait_until as wait_for

pytestmark = pytest.mark.integration

PY = sys.executable


BUSY = """
while True:
    pass
"""


def test_identify_and_snapshot_describe_the_live_tree(tmp_path: Path,
                                                      spawned: list[ProcessIdentity]) -> None:
    target = bot_target(tmp_path / "remi", TREE)
    ident = host.spawn(target)
    spawned.append(ident)
    wait_for((tmp_path / "remi/grandchild.pid").exists)
    grandchild = int((tmp_path / "remi/grandchild.pid").read_text())

    assert host.identify(ident.pid) == dataclasses.replace(ident, spawn_id="")
    assert ident.cmdline == (PY, "bot.py")
    assert ident.cwd == str((tmp_path / "remi").resolve())
    snap = host.snapshot(ident)
    assert snap is not None
    assert snap.identity == ident
    assert grandchild in snap.children
    assert snap.rss_bytes > 0
    assert snap.uptime_s >= 0
    assert snap.status in (psutil.STATUS_SLEEPING, psutil.STATUS_RUNNING)


def test_snapshot_cpu_percent_covers_the_interval_between_calls(
        tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    """Successive snapshots of a busy process report real CPU use, not 0.0 each time."""
    ident = host.spawn(bot_target(tmp_path / "remi", BUSY))
    spawned.append(ident)
    assert host.snapshot(ident) is not None
    time.sleep(0.3)
    snap = host.snapshot(ident)
    assert snap is not None
    assert snap.cpu_percent > 20


def test_a_gone_process_has_no_identity_nor_snapshot(tmp_path: Path) -> None:
    ident = host.spawn(bot_target(tmp_path / "remi", ONE_SHOT))
    assert host.wait_exit(ident, 5) is not None
    assert host.identify(ident.pid) is None
    assert host.snapshot(ident) is None
    assert not host.is_alive(ident)


def test_reused_pid_is_never_signalled(tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    """An identity with the right pid but another start time or cmdline is not that process."""
    ident = host.spawn(bot_target(tmp_path / "remi", SLEEPER))
    spawned.append(ident)
    for fake in (dataclasses.replace(ident, create_time=ident.create_time - 100),
                 dataclasses.replace(ident, cmdline=("python", "other.py"), spawn_id="")):
        assert not host.same_process(fake)
        assert host.snapshot(fake) is None
        result = host.stop(fake, 0.2)
        assert result == dataclasses.replace(result, stopped=False, killed=False)
        assert not host.send_dump_signal(fake, assume_handler=True)
        assert host.wait_exit(fake, 0.05) is not None  # "that" process is gone
    assert host.is_alive(ident)
    assert host.same_process(ident)


def test_a_spawned_process_is_looked_at_through_one_kept_handle(
        tmp_path: Path, spawned: list[ProcessIdentity],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A check asks "alive?" and takes a snapshot of the Remi it spawned every interval:
    one psutil handle is made for it, then kept, and each later look reads its start."""
    target = bot_target(tmp_path / "remi", SLEEPER)
    ident = host.spawn(target)
    spawned.append(ident)
    assert ident.spawn_id
    made: list[int] = []
    real = psutil.Process

    class Counted(real):  # type: ignore[misc,valid-type]
        def __init__(self, pid: int | None = None) -> None:
            made.append(pid or 0)
            super().__init__(pid)

    monkeypatch.setattr(psutil, "Process", Counted)
    for _ in range(5):
        assert host.is_alive(ident)
        assert host.snapshot(ident, shared=True) is not None
    assert made.count(ident.pid) == 1

    # the kernel gave the pid to another process: the kept handle's start no longer
    # matches, so it is not that process any more (and nothing is made to say so)
    real_read = proc_stat.read_stat

    def reused(pid: int) -> StatLine | None:
        line = real_read(pid)
        return (dataclasses.replace(line, started=line.started + 1)
                if line is not None and pid == ident.pid else line)

    monkeypatch.setattr(identity, "read_stat", reused)
    monkeypatch.setattr(shared_look, "read_stat", reused)  # the kept handle's look
    assert not host.is_alive(ident)
    monkeypatch.setattr(identity, "read_stat", real_read)
    monkeypatch.setattr(shared_look, "read_stat", real_read)
    assert host.is_alive(ident)  # a fresh look (verified) finds it again
    psutil.Process(ident.pid).kill()
    wait_for(lambda: not host.is_alive(ident))  # a zombie, then gone: not alive



def test_the_stat_line_says_what_psutil_says(tmp_path: Path,
                                             spawned: list[ProcessIdentity]) -> None:
    """The one-read look at a process agrees with psutil's several reads."""
    target = bot_target(tmp_path / "remi", BUSY)
    ident = host.spawn(target)
    spawned.append(ident)
    time.sleep(0.3)
    proc = psutil.Process(ident.pid)
    line = proc_stat.read_stat(ident.pid)
    assert line is not None
    assert line.status == proc.status() == psutil.STATUS_RUNNING
    assert line.ppid == proc.ppid()
    assert abs(line.rss_bytes - proc.memory_info().rss) < 2**20
    times = proc.cpu_times()
    assert abs(line.cpu_ticks / proc_stat.TICKS - (times.user + times.system)) < 0.2
    assert proc_stat.read_stat(2**22 + 1) is None
