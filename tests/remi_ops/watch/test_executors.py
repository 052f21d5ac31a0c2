"""The watcher's own pools: a slow target holds one thread, never another target's check."""

from __future__ import annotations

import asyncio
import threading

from remi_ops.watch.executors import Executors

#: generous: only bounds a broken test
DONE_S = 10.0


async def test_a_stuck_target_never_delays_another_targets_check() -> None:
    """Target A is stuck (its check blocks) and has more work queued than the pool has
    threads; target B's check still runs at once, because A waits in its lane on the loop
    rather than in the pool's threads."""
    pools = Executors(targets=2)  # two check threads
    release = threading.Event()
    started: list[str] = []

    def stuck() -> str:
        started.append("a")
        release.wait(DONE_S)
        return "a"

    a_jobs = [asyncio.ensure_future(pools.check("a", stuck)) for _ in range(4)]
    try:
        b = await asyncio.wait_for(pools.check("b", lambda: "b"), DONE_S)
        assert b == "b"
        assert started == ["a"]  # A's other jobs wait for its first, not in a thread
    finally:
        release.set()
        assert await asyncio.wait_for(asyncio.gather(*a_jobs), DONE_S) == ["a"] * 4
        pools.close()


async def test_a_death_is_handled_while_every_check_thread_is_busy() -> None:
    pools = Executors(targets=1)
    release = threading.Event()
    busy = asyncio.ensure_future(pools.check("a", lambda: release.wait(DONE_S)))
    try:
        assert await asyncio.wait_for(pools.death(lambda: "handled"), DONE_S) == "handled"
        assert not busy.done()
    finally:
        release.set()
        await asyncio.wait_for(busy, DONE_S)
        pools.close()


async def test_each_death_of_a_burst_is_taken_up_while_the_others_restart() -> None:
    """Ten Remis die at once and each death's handling blocks (a slow restart): all ten
    are under way together — the tenth is noticed at once, not after others finish."""
    pools = Executors(targets=200)
    release = threading.Event()
    under_way: list[int] = []
    all_started = threading.Event()

    def restart(i: int) -> int:
        under_way.append(i)
        if len(under_way) == 10:
            all_started.set()
        release.wait(DONE_S)
        return i

    deaths = [asyncio.ensure_future(pools.death(restart, i)) for i in range(10)]
    try:
        assert await asyncio.to_thread(all_started.wait, DONE_S), under_way
        assert not any(d.done() for d in deaths)
    finally:
        release.set()
        assert await asyncio.wait_for(asyncio.gather(*deaths), DONE_S) == list(range(10))
        pools.close()


async def test_a_scan_test_runs_beside_its_targets_checks() -> None:
    pools = Executors(targets=1)
    release = threading.Event()
    scan = asyncio.ensure_future(pools.scan("a", lambda: release.wait(DONE_S)))
    try:
        assert await asyncio.wait_for(pools.check("a", lambda: "checked"), DONE_S) == "checked"
        assert not scan.done()
    finally:
        release.set()
        await asyncio.wait_for(scan, DONE_S)
        pools.close()


def test_pools_are_bounded_whatever_the_number_of_targets() -> None:
    pools = Executors(targets=200)
    try:
        assert pools.checks._max_workers <= 8 and pools.deaths._max_workers <= 16
        assert pools.scans._max_workers <= 4
    finally:
        pools.close()
