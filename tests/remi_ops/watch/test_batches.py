"""Routine work handed to the check threads in batches: many jobs due together are a few
hand-offs, and a slow job never holds the others of its batch for long."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from remi_ops.watch.batches import Batches
from remi_ops.watch.executors import Lanes

#: generous: only bounds a broken test
DONE_S = 10.0


@pytest.fixture
def pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(2, thread_name_prefix="test-batch")


async def test_jobs_due_together_are_one_hand_off_run_in_turn_on_one_thread(
        pool: ThreadPoolExecutor) -> None:
    batches = Batches(pool, Lanes())
    threads: list[int] = []

    def job(i: int) -> int:
        threads.append(threading.get_ident())
        return i

    try:
        results = await asyncio.wait_for(asyncio.gather(
            *(batches.submit(f"t{i}", job, i) for i in range(200))), DONE_S)
        assert results == list(range(200))
        assert batches.handed == 1
        assert len(set(threads)) == 1
    finally:
        pool.shutdown()


async def test_a_burst_too_long_for_one_thread_spreads_over_the_pool(
        pool: ThreadPoolExecutor) -> None:
    """Ten jobs of 30 ms: after ``steal_after_s`` the jobs not yet begun go on to another
    thread, so the burst ends well before 300 ms of one thread."""
    batches = Batches(pool, Lanes(), steal_after_s=0.05)
    threads: set[int] = set()

    def job() -> None:
        threads.add(threading.get_ident())
        threading.Event().wait(0.03)

    try:
        await asyncio.wait_for(asyncio.gather(*(batches.submit(f"t{i}", job)
                                                for i in range(10))), DONE_S)
        assert batches.handed >= 2 and len(threads) == 2
    finally:
        pool.shutdown()


async def test_a_blocked_job_lets_the_rest_of_its_batch_run(pool: ThreadPoolExecutor) -> None:
    """The first job of a batch blocks; the loop hands the others on to another thread,
    which runs them while the first still blocks."""
    batches = Batches(pool, Lanes(), steal_after_s=0.05)
    release = threading.Event()

    def blocked() -> str:
        release.wait(DONE_S)
        return "slow"

    slow = batches.submit("slow", blocked)
    quick = [batches.submit(f"t{i}", lambda i=i: i) for i in range(5)]
    try:
        assert await asyncio.wait_for(asyncio.gather(*quick), DONE_S) == list(range(5))
        assert not slow.done()
    finally:
        release.set()
        assert await asyncio.wait_for(slow, DONE_S) == "slow"
        pool.shutdown()


async def test_one_job_per_lane_at_a_time_and_errors_reach_their_awaiter(
        pool: ThreadPoolExecutor) -> None:
    lanes = Lanes()
    batches = Batches(pool, lanes)
    inside = 0
    most = 0
    lock = threading.Lock()

    def job() -> None:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        threading.Event().wait(0.01)
        with lock:
            inside -= 1

    def broken() -> None:
        raise OSError("disk full")

    try:
        failed = batches.submit("a", broken)
        await asyncio.wait_for(asyncio.gather(*(batches.submit("a", job) for _ in range(4))),
                               DONE_S)
        assert most == 1
        with pytest.raises(OSError, match="disk full"):
            await failed
        assert not lanes.busy("a")
    finally:
        pool.shutdown()


async def test_a_batch_wakes_the_loop_once_for_all_its_results(
        pool: ThreadPoolExecutor) -> None:
    """A wake-up per result made the loop and the check thread take the GIL from each
    other after every check; a batch's results come back together."""
    batches = Batches(pool, Lanes())
    loop = asyncio.get_running_loop()
    wakes = 0
    posted = loop.call_soon_threadsafe

    def counted(callback, *args):  # type: ignore[no-untyped-def]  # the loop's own signature
        nonlocal wakes
        wakes += 1
        return posted(callback, *args)

    loop.call_soon_threadsafe = counted  # type: ignore[method-assign,assignment]  # counts
    try:
        results = await asyncio.wait_for(asyncio.gather(
            *(batches.submit(f"t{i}", threading.Event().wait, 0.002) for i in range(8))),
            DONE_S)
        assert results == [False] * 8
        assert (batches.handed, wakes) == (1, 1)
    finally:
        del loop.call_soon_threadsafe
        pool.shutdown()


async def test_results_made_before_a_blocked_job_are_not_held_by_it(
        pool: ThreadPoolExecutor) -> None:
    """A batch of one quick job then a blocked one: the quick one's result reaches its
    awaiter while the other still blocks (the loop's look at a slow batch drains it)."""
    batches = Batches(pool, Lanes(), steal_after_s=0.05)
    release = threading.Event()
    quick = batches.submit("quick", lambda: "quick")
    slow = batches.submit("slow", release.wait, DONE_S)
    try:
        assert await asyncio.wait_for(quick, DONE_S) == "quick"
        assert not slow.done()
    finally:
        release.set()
        assert await asyncio.wait_for(slow, DONE_S) is True
        pool.shutdown()
