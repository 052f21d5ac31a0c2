"""A loop asleep until an event or a timeout holds one task, not two (issue 12: RSS).

Every target has four loops asleep most of the time; ``asyncio.wait_for`` wrapped each wait
in a task of its own (about 1 KB more per loop). Counted here as what it is: the tasks
alive while the loops sleep, and each loop still wakes on its event, on its timeout, and
stops when asked.
"""

from __future__ import annotations

import asyncio

from remi_ops.watch.loops import pause, periodic, set_or_timeout

LOOPS = 20


async def test_sleeping_loops_hold_one_task_each() -> None:
    stopping = asyncio.Event()
    ran: list[int] = []

    async def step() -> None:
        ran.append(1)

    sleepers = [asyncio.create_task(pause(stopping, 60)) for _ in range(LOOPS)]
    sleepers += [asyncio.create_task(periodic(60, stopping, step, "tick"))
                 for _ in range(LOOPS)]
    await asyncio.sleep(0.05)  # every one asleep in its wait

    assert len(ran) == LOOPS  # periodic ran its first step, then slept
    assert len(asyncio.all_tasks()) == 2 * LOOPS + 1  # the loops and this test, no more

    stopping.set()
    await asyncio.wait_for(asyncio.gather(*sleepers), 5)


async def test_set_or_timeout_returns_on_the_event_or_the_timeout() -> None:
    event = asyncio.Event()
    loop = asyncio.get_running_loop()

    began = loop.time()
    await set_or_timeout(event, 0.05)  # nobody sets it: the timeout ends the wait
    assert loop.time() - began >= 0.04
    assert not event.is_set()

    loop.call_later(0.01, event.set)
    await asyncio.wait_for(set_or_timeout(event, 60), 5)  # the event ends it, not the 60 s
    assert event.is_set()

    await asyncio.wait_for(set_or_timeout(event, -1.0), 5)  # already set, a past deadline
