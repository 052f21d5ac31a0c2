"""One heap of timed wake-ups under one loop timer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from remi_ops.watch.timers import Timers


async def test_alarms_fire_in_order_and_those_due_together_in_one_turn() -> None:
    loop = asyncio.get_running_loop()
    timers = Timers(loop, window_s=0.02)
    fired: list[tuple[str, int]] = []
    turn = 0

    def count_turns() -> None:
        nonlocal turn
        turn += 1
        loop.call_soon(count_turns)

    loop.call_soon(count_turns)
    now = loop.time()
    def fire(name: str) -> Callable[[], None]:
        return lambda: fired.append((name, turn))

    for name, delay in (("c", 0.30), ("a", 0.10), ("b", 0.11)):
        timers.alarm(fire(name)).at(now + delay)
    await asyncio.sleep(0.5)
    assert [name for name, _ in fired] == ["a", "b", "c"]
    assert fired[0][1] == fired[1][1] != fired[2][1]  # a and b: within the window
    timers.close()


async def test_a_moved_alarm_fires_once_at_its_new_time_and_a_cancelled_one_never() -> None:
    loop = asyncio.get_running_loop()
    timers = Timers(loop)
    fired: list[str] = []
    moved = timers.alarm(lambda: fired.append("moved"))
    cancelled = timers.alarm(lambda: fired.append("cancelled"))
    moved.after(0.05)
    moved.after(0.2)
    cancelled.after(0.05)
    cancelled.cancel()
    await asyncio.sleep(0.1)
    assert fired == []
    await asyncio.sleep(0.2)
    assert fired == ["moved"]
    timers.close()


async def test_moving_alarms_again_and_again_keeps_the_heap_small() -> None:
    """A due time moved by every change must not grow the heap without end."""
    loop = asyncio.get_running_loop()
    timers = Timers(loop)
    alarms = [timers.alarm(lambda: None) for _ in range(10)]
    for _ in range(1000):
        for alarm in alarms:
            alarm.after(60)
    assert timers.pending() == 10
    assert len(timers._heap) < 200
    timers.close()


async def test_an_error_in_one_alarm_does_not_stop_the_others() -> None:
    loop = asyncio.get_running_loop()
    timers = Timers(loop)
    fired: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    timers.alarm(broken).after(0.01)
    timers.alarm(lambda: fired.append("ok")).after(0.01)
    await asyncio.sleep(0.1)
    assert fired == ["ok"]
    timers.close()
