"""Loops asleep until their own event or the watcher's stop hold no task per wait (issue 12:
RSS): one task per loop, and one shared by all for the stop. Each still wakes on its event,
on its timeout, and when the watcher stops; a stop event cleared and reused stops them again.
Loops cancelled instead (how a watcher ends its jobs) leave no task behind.
"""

from __future__ import annotations

import asyncio

from remi_ops.watch.loops import first_of

LOOPS = 20


async def asleep(stopping: asyncio.Event) -> list[asyncio.Task[None]]:
    """LOOPS loops asleep in ``first_of``, each on its own event; the tasks alive checked."""
    sleepers = [asyncio.create_task(first_of(stopping, asyncio.Event(), 60))
                for _ in range(LOOPS)]
    await asyncio.sleep(0.05)  # every one asleep in its wait
    assert not any(s.done() for s in sleepers)
    # the loops, the one task awaiting the stop for them all, and this test: no more
    assert len(asyncio.all_tasks()) == LOOPS + 2  # 3 per loop when each waited on both
    return sleepers


async def test_loops_asleep_on_two_events_hold_one_task_each() -> None:
    stopping, mine = asyncio.Event(), asyncio.Event()
    sleepers = await asleep(stopping)

    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.wait_for(first_of(stopping, mine, 0.05), 5)  # the timeout ends a wait
    assert loop.time() - began >= 0.04
    loop.call_later(0.01, mine.set)
    await asyncio.wait_for(first_of(stopping, mine, 60), 5)  # and its own event
    assert not any(s.done() for s in sleepers)  # the others slept through both

    stopping.set()
    await asyncio.wait_for(asyncio.gather(*sleepers), 5)  # the stop wakes them all

    stopping.clear()  # the same event reused (an app started again in this process)
    sleepers = await asleep(stopping)  # the old stop does not wake the new waits
    stopping.set()
    await asyncio.wait_for(asyncio.gather(*sleepers), 5)


async def test_loops_cancelled_in_their_sleep_leave_no_task_behind() -> None:
    """The shared stop task goes with the last sleeper: a stop that never came keeps no
    task (nor, through it, the event loop) alive."""
    stopping = asyncio.Event()
    sleepers = await asleep(stopping)
    for sleeper in sleepers:
        sleeper.cancel()
    await asyncio.gather(*sleepers, return_exceptions=True)
    await asyncio.sleep(0)  # the shared task's own cancellation runs
    assert asyncio.all_tasks() == {asyncio.current_task()}

