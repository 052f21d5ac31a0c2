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
    batches = Batches(pool, Lanes(), batch_max=16)
    threads: list[int] = []

    def job(i: int) -> int:
        threads.append(threading.get_ident())
        return i

    try:
        results = await asyncio.wait_for(asyncio.gather(
            *(batches.submit(f"t{i}", job, i) for i in range(16))), DONE_S)
        assert results == list(range(16))
        assert batches.handed == 1
        assert len(set(threads)) == 1
        # more than a batch holds: spread over the pool's threads
        more = await asyncio.wait_for(asyncio.gather(
            *(batches.submit(f"t{i}", job, i) for i in range(40))), DONE_S)
        assert more == list(range(40))
        assert batches.handed == 1 + 3
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
