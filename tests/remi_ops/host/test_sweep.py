"""No escaped child survives a stop, and none is ever taken for Remi."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bubabot_local.misbehaving import escaper
from bubabot_local.simkit import bot_target, gone

from remi_ops import host
from remi_ops.config import TargetSettings
from remi_ops.host.spawnmark import SPAWN_ENV, carriers, new_spawn_id
from remi_ops.testing import wait_until as wait_for

pytestmark = pytest.mark.integration



def escaped(workdir: Path) -> tuple[int, int]:
    wait_for((workdir / "helper.pid").exists)
    wait_for((workdir / "fork.pid").exists)
    return int((workdir / "helper.pid").read_text()), int((workdir / "fork.pid").read_text())


def started(tmp_path: Path) -> tuple[TargetSettings, host.DirectManager]:
    target = bot_target(tmp_path / "remi", escaper())
    return target, host.DirectManager(target, tmp_path / "state")


def test_a_stop_sweeps_every_escaped_child_and_reports_them(tmp_path: Path) -> None:
    _, manager = started(tmp_path)
    real = manager.start()
    helper, fork = escaped(tmp_path / "remi")
    found = manager.find()
    assert found[0] == real  # the fork with Remi's argv is a duplicate, never the one
    assert fork in [i.pid for i in found[1:]]
    result = manager.stop(real, 2)
    assert sorted(result.swept) == sorted([helper, fork])
    assert gone(real.pid) and gone(helper) and gone(fork)


def test_the_fork_is_never_adopted_after_remi_dies_and_is_swept_at_the_next_start(
        tmp_path: Path) -> None:
    target, manager = started(tmp_path)
    real = manager.start()
    helper, fork = escaped(tmp_path / "remi")
    os.kill(real.pid, signal.SIGKILL)  # Remi crashes; its escaped children live on
    assert manager.wait_exit(real, 5) is not None
    assert fork in [i.pid for i in host.find_target_processes(target)]
    assert manager.find() == []  # not running: the fork is not Remi
    assert host.DirectManager(target, tmp_path / "state").find() == []  # nor for a new watcher
    fresh = manager.start()
    assert fresh.pid not in (real.pid, helper, fork)
    assert gone(helper) and gone(fork)
    manager.stop(fresh, 2)


def test_a_sweep_reads_only_processes_younger_than_the_spawn(tmp_path: Path) -> None:
    """A carrier started before ``born_since`` cannot descend from that spawn: skipped
    (its environment is not read); one started after it is found."""
    mark = new_spawn_id()
    env = {**os.environ, SPAWN_ENV: mark}
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env)
    try:
        wait_for(lambda: [i.pid for i in carriers({mark})] == [proc.pid])
        assert carriers({mark}, born_since=time.time() + 60) == []
        [found] = carriers({mark}, born_since=time.time() - 30)
        assert found.pid == proc.pid and found.spawn_id == mark
    finally:
        proc.kill()
        proc.wait()


def test_a_restart_spawns_first_then_sweeps_the_old_spawns_leftovers(tmp_path: Path) -> None:
    _, manager = started(tmp_path)
    real = manager.start()
    helper, fork = escaped(tmp_path / "remi")
    (tmp_path / "remi" / "helper.pid").unlink()
    (tmp_path / "remi" / "fork.pid").unlink()
    fresh = manager.restart(real, 2)
    assert fresh.pid not in (real.pid, helper, fork) and not gone(fresh.pid)
    assert gone(real.pid) and gone(helper) and gone(fork)
    assert sorted(manager.take_swept()) == sorted([helper, fork])
    new_helper, new_fork = escaped(tmp_path / "remi")  # the new Remi's own, not swept
    assert not gone(new_helper) and not gone(new_fork)
    manager.stop(fresh, 2)
    assert gone(new_helper) and gone(new_fork)
