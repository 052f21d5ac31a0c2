"""The due loop sleeps until something is due or the target says it changed, never in
fixed ticks (``FakeProcessManager`` + ``FakeClock``; the loop's own sleeps are real)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from remi_ops.domain import CheckTrigger
from remi_ops.watch import loops
from remi_ops.watch.loops import due_loop, seconds_until_next_due
from tests.remi_ops.watch.test_fileevents import until
from tests.remi_ops.watch.test_policy import Rig, build, running


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from build(tmp_path)


def test_it_sleeps_until_the_earliest_of_what_is_due(rig: Rig) -> None:
    running(rig)
    assert seconds_until_next_due(rig.watch) == loops.SAFETY_POLL_S  # nothing scheduled
    mono = rig.clock.monotonic()
    rig.watch.scan_due_mono = mono + 12
    rig.watch.recheck_due_mono = mono + 7
    assert seconds_until_next_due(rig.watch) == pytest.approx(7)
    rig.watch.maintenance(rig.clock.now() + timedelta(seconds=3), "cli:ana", "upgrade")
    assert seconds_until_next_due(rig.watch) == pytest.approx(3)
    rig.clock.advance(10)  # all of it overdue: at once (a floor keeps it from spinning)
    assert seconds_until_next_due(rig.watch) == loops.DUE_MIN_SLEEP_S


async def test_idle_it_does_not_wake_and_a_change_wakes_it_at_once(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing due: no wake-ups at all (it used to look twice a second); a recheck set
    with ``on_change`` runs without waiting for the safety poll."""
    monkeypatch.setattr(loops, "SAFETY_POLL_S", 3600.0)
    running(rig)
    looks: list[float | None] = []
    real = rig.watch.seconds_until_due

    def counted() -> float | None:
        looks.append(real())
        return looks[-1]

    checks: list[CheckTrigger] = []
    rig.watch.seconds_until_due = counted  # type: ignore[method-assign]
    rig.watch.check = lambda trigger=CheckTrigger.SCHEDULE: checks.append(trigger)  # type: ignore[assignment,method-assign,return-value]
    stopping = asyncio.Event()
    task = asyncio.create_task(due_loop(rig.watch, stopping))
    try:
        await asyncio.sleep(1.5)
        assert len(looks) <= 1
        rig.watch.recheck_due_mono = rig.clock.monotonic()
        rig.watch.on_change()  # what ``_act`` calls after a restart
        await until(lambda: checks == [CheckTrigger.AFTER_RESTART])
    finally:
        stopping.set()
        await asyncio.wait_for(task, 5)


async def test_maintenance_that_is_over_ends_when_the_loop_wakes(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loops, "SAFETY_POLL_S", 3600.0)
    running(rig)
    stopping = asyncio.Event()
    task = asyncio.create_task(due_loop(rig.watch, stopping))
    try:
        await asyncio.sleep(0.1)
        rig.watch.maintenance(rig.clock.now() + timedelta(seconds=60), "cli:ana", "upgrade")
        rig.clock.advance(60)  # the fake clock says it is over; the loop sleeps ≤ 60 s real
        await until(lambda: rig.watch.supervisor.maintenance_until is None)
    finally:
        stopping.set()
        await asyncio.wait_for(task, 5)
