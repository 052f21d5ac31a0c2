"""One scheduler for every target (real sleepers under a real ``Watcher``): no task asleep
per target, checks due together handed off together, and neither a blocked check nor a
batch keeps another target's check or a death waiting."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from bubabot_local.simkit import kill_leftovers

from remi_ops import host
from remi_ops.domain import CheckTrigger, ExitInfo, HealthReport
from remi_ops.testing import running, wait_until_async
from remi_ops.watch.watcher import Watcher
from tests.remi_ops.watch.test_many_targets import settled, sleepers_watcher

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

#: generous bounds: they only stop a broken test
UP_S = 60.0
BACK_S = 30.0


async def running_sleepers(tmp_path: Path, count: int,
                           interval_s: float) -> AsyncIterator[Watcher]:
    """A running watcher of ``count`` sleepers; what it leaves is killed after."""
    try:
        async with running(sleepers_watcher(tmp_path, count, interval_s)) as watcher:
            yield watcher
    finally:
        kill_leftovers(tmp_path)


@pytest.fixture
async def twenty(tmp_path: Path) -> AsyncIterator[Watcher]:
    async for watcher in running_sleepers(tmp_path, 20, 60):
        yield watcher


async def test_twenty_targets_hold_no_sleeping_task_each(twenty: Watcher) -> None:
    """Four loops asleep per target were four tasks each (80 here); now one scheduler."""
    watches = list(twenty.watches.values())
    await wait_until_async(lambda: all(w.last_report is not None and w.recheck_due_mono is None
                                       for w in watches), UP_S, "every target's first checks")
    await wait_until_async(lambda: twenty.exits.watching() == len(watches), UP_S,
                           "every target's death awaited")
    await asyncio.sleep(0.5)  # the rechecks' ends, the probes after them
    tasks = asyncio.all_tasks()
    assert len(tasks) < len(watches), sorted(repr(t.get_coro()) for t in tasks)


@pytest.fixture
async def six(tmp_path: Path) -> AsyncIterator[Watcher]:
    async for watcher in running_sleepers(tmp_path, 6, 1):
        yield watcher


async def test_a_blocked_check_holds_no_other_check_nor_a_death(six: Watcher) -> None:
    """remi00's check blocks inside a batch: the other targets' checks (due with it, a
    second apart) still run, a killed target is restarted meanwhile, and checks due
    together went to the threads in fewer hand-offs than checks."""
    watches = list(six.watches.values())
    await wait_until_async(lambda: all(w.last_report is not None for w in watches), UP_S,
                           "every target's first check")
    blocked, release = six.watch("remi00"), threading.Event()
    entered = threading.Event()
    real_check = blocked.check

    def stuck(trigger: CheckTrigger = CheckTrigger.SCHEDULE) -> HealthReport:
        entered.set()
        release.wait(UP_S)
        return real_check(trigger)

    blocked.check = stuck  # type: ignore[method-assign]
    try:
        await wait_until_async(entered.is_set, UP_S, "remi00's check blocked")
        since = datetime.now().astimezone()
        others = watches[1:]

        def checked_since() -> bool:
            return all(w.last_report is not None and w.last_report.checked_at > since
                       for w in others)

        await wait_until_async(checked_since, BACK_S, "the others' checks")
        killed = six.watch("remi03")
        old = killed.supervisor.process
        assert old is not None
        os.kill(old.pid, signal.SIGKILL)

        def back() -> bool:
            now = killed.supervisor.process
            return now is not None and now.pid != old.pid and host.is_alive(now)

        await wait_until_async(back, BACK_S, "remi03 restarted while remi00's check blocks")
        assert not release.is_set()
        schedule = six.schedule
        assert schedule is not None
        assert schedule.batches.handed < schedule.submitted
    finally:
        release.set()


@pytest.fixture
async def one(tmp_path: Path) -> AsyncIterator[Watcher]:
    async for watcher in running_sleepers(tmp_path, 1, 60):
        yield watcher


async def test_a_failed_death_handling_is_tried_again_after_a_pause(one: Watcher) -> None:
    """Handling a real death raises: tried again after 0.5 s, 1 s, 2 s … (not at once
    forever: the dead process is "exited" again at once); once it works, Remi is back."""
    watch = one.watch(None)
    await wait_until_async(lambda: one.exits.watching() == 1, UP_S, "its death awaited")
    # its first check and the recheck after the start are done: the next check is a
    # minute away, so only the death handling below can act on the death
    await wait_until_async(lambda: settled(watch), UP_S, "its first checks")
    calls: list[float] = []
    real = watch.handle_exit

    def broken(info: ExitInfo) -> None:
        calls.append(time.monotonic())
        raise OSError("disk full")

    watch.handle_exit = broken  # type: ignore[method-assign]
    old = watch.supervisor.process
    assert old is not None
    os.kill(old.pid, signal.SIGKILL)
    await wait_until_async(lambda: bool(calls), BACK_S, "the death noticed")
    await asyncio.sleep(2.0)
    assert 2 <= len(calls) <= 4, calls  # 0.5 s, 1 s, 2 s between tries (hot: thousands)
    watch.handle_exit = real  # type: ignore[method-assign]

    def back() -> bool:
        now = watch.supervisor.process
        return now is not None and now.pid != old.pid and host.is_alive(now)

    await wait_until_async(back, BACK_S, "restarted once the handling works")
