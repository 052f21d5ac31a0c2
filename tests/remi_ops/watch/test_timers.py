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


async def test_an_alarm_with_slack_comes_along_early_but_never_sooner_alone() -> None:
    """A check 0.2 s after another's fires with it (its slack is 0.3 s); one due 0.5 s
    after is beyond its slack and keeps its time, and a slack alone fires nothing early."""
    loop = asyncio.get_running_loop()
    timers = Timers(loop, window_s=0.005, slack_max_s=0.3)
    fired: dict[str, float] = {}
    start = loop.time()

    def alarm(name: str, delay: float, slack_s: float = 0.3) -> None:
        def fire() -> None:
            fired.setdefault(name, loop.time() - start)

        a = timers.alarm(fire)
        a.slack_s = slack_s
        a.at(start + delay)

    alarm("first", 0.1, slack_s=0.0)
    alarm("along", 0.3)  # 0.2 s after first: within its slack
    alarm("no slack", 0.25, slack_s=0.0)  # within the reach, but keeps its time
    alarm("beyond", 0.6)  # 0.5 s after: beyond
    alarm("alone", 1.2)  # nothing fires before it: on time
    await asyncio.sleep(1.4)
    timers.close()
    assert fired["first"] <= fired["along"] < 0.2  # the same firing
    assert 0.25 <= fired["no slack"] < 0.35
    assert fired["beyond"] >= 0.6 and fired["alone"] >= 1.2
