"""Fifty real sleepers under one Watcher: every death is awaited by the one waiter, no
thread sits in a wait, and each of several killed at once is noticed and restarted — with
the kernel's pidfd and with the polling fallback alike.

Checks are a minute apart here: the deaths are noticed by the waiter or not at all.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import pytest
from bubabot_local.simkit import kill_leftovers

from remi_ops import host
from remi_ops.config_file import parse_settings
from remi_ops.domain import Trigger
from remi_ops.host.exitwatch import ExitWatch, Mode, best_mode
from remi_ops.testing import running, wait_until_async
from remi_ops.watch.target import TargetWatch
from remi_ops.watch.watcher import Watcher

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]  # 50 real processes, twice

TARGETS = 50
KILLED = 6
SLEEP = shutil.which("sleep") or "/bin/sleep"
#: generous bounds: they only stop a broken test, the bench measures the speed
UP_S = 60.0
BACK_S = 30.0


def sleepers_watcher(tmp_path: Path, count: int, interval_s: float = 60) -> Watcher:
    """A watcher of ``count`` ``sleep 600`` targets, each in its own workdir, checks
    ``interval_s`` apart (a minute by default)."""
    targets = []
    for i in range(count):
        (tmp_path / f"remi{i:02}").mkdir()
        targets.append({"name": f"remi{i:02}", "workdir": str(tmp_path / f"remi{i:02}"),
                        "command": [SLEEP, "600"], "restart": {"stop_grace_s": 1}})
    settings = parse_settings({"watchdog": {"state_dir": str(tmp_path / "state"),
                                            "check_interval_s": interval_s},
                               "targets": targets}, base_dir=tmp_path)
    return Watcher(settings, console=None, environ={})


@pytest.fixture(params=["poll", *(["pidfd"] if best_mode() == "pidfd" else [])])
async def watcher(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Watcher]:
    watcher = sleepers_watcher(tmp_path, TARGETS)
    mode: Mode = request.param
    watcher.exits = ExitWatch(clock=watcher.clock, mode=mode, poll_interval_s=0.1)
    try:
        async with running(watcher):
            yield watcher
    finally:
        kill_leftovers(tmp_path)


def settled(watch: TargetWatch) -> bool:
    """Its first check and its recheck after the start are done, and nothing runs now."""
    if watch.last_report is None or watch.recheck_due_mono is not None:
        return False
    if not watch.lock.acquire(blocking=False):
        return False
    watch.lock.release()
    return True


def threads_waiting_for_an_exit() -> list[str]:
    """Threads of this process inside a blocking ``wait_exit`` (the old way: one each).

    A Kubernetes manager's wait (from an earlier test in the same worker, finishing its
    last slice after its watcher closed) is not one of these sleepers': not counted.
    """
    waiting: list[str] = []
    for frame in sys._current_frames().values():
        names: set[str] = set()
        files: set[str] = set()
        f: FrameType | None = frame
        while f is not None:
            names.add(f.f_code.co_name)
            files.add(Path(f.f_code.co_filename).name)
            f = f.f_back
        if {"wait_exit", "_wait_popen", "_wait_foreign"} & names and "kubernetes.py" not in files:
            waiting.append(" > ".join(sorted(names)))
    return waiting


async def test_fifty_deaths_are_awaited_together_and_each_killed_one_comes_back(
        watcher: Watcher) -> None:
    watches = list(watcher.watches.values())
    await wait_until_async(lambda: watcher.exits.watching() == TARGETS, UP_S,
                           "every target registered with the one waiter")
    # the first scheduled checks and the rechecks after the starts are done, the next
    # check is a minute away: only the waiter can notice the deaths below (a check that
    # saw one first would restart it as well, but as "not running")
    await wait_until_async(lambda: all(settled(w) for w in watches), UP_S,
                           "every target's first checks")
    assert threads_waiting_for_an_exit() == []
    killed = {w.name: w.supervisor.process for w in watches[::TARGETS // KILLED][:KILLED]}
    for ident in killed.values():
        assert ident is not None
        os.kill(ident.pid, signal.SIGKILL)

    def all_back() -> bool:
        for name, old in killed.items():
            now = watcher.watch(name).supervisor.process
            if now is None or old is None or now.pid == old.pid or not host.is_alive(now):
                return False
        return True

    await wait_until_async(all_back, BACK_S, "each killed target restarted")

    def all_recorded() -> bool:  # the new process is in place a moment before its row
        since = datetime(2000, 1, 1, tzinfo=UTC)
        return all(any(r.old_pid == old.pid for r in watcher.store.restarts(name, since))
                   for name, old in killed.items() if old is not None)

    await wait_until_async(all_recorded, BACK_S, "each restart recorded")
    for name, old in killed.items():
        assert old is not None
        restarts = watcher.store.restarts(name, datetime(2000, 1, 1, tzinfo=UTC))
        seen = [(r.trigger, r.old_pid, r.reason) for r in restarts]
        assert [(r.trigger, r.ok) for r in restarts if r.old_pid == old.pid] == \
            [(Trigger.CRASH, True)], seen
    untouched = [w for w in watches if w.name not in killed]
    assert all(w.supervisor.process is not None and host.is_alive(w.supervisor.process)
               for w in untouched)
    await wait_until_async(lambda: watcher.exits.watching() == TARGETS, BACK_S,
                           "the new processes registered in place of the dead")
    assert threads_waiting_for_an_exit() == []
