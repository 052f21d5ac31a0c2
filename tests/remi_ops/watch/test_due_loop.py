"""A target's due actions sleep until something is due or the target says it changed,
never in fixed ticks (``FakeProcessManager`` + ``FakeClock``, under the watcher's real
scheduler: its sleeps are real)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from remi_ops.domain import CheckTrigger
from remi_ops.host.exitwatch import ExitWatch
from remi_ops.watch import loops
from remi_ops.watch.executors import Executors
from remi_ops.watch.fileevents import FileEvents
from remi_ops.watch.loops import seconds_until_next_due
from remi_ops.watch.schedule import Schedule
from remi_ops.watch.target import TargetWatch
from tests.remi_ops.watch.test_fileevents import until
from tests.remi_ops.watch.test_policy import Rig, build, running


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from build(tmp_path)


@contextlib.asynccontextmanager
async def scheduled(watch: TargetWatch) -> AsyncIterator[Schedule]:
    """``watch`` under the watcher's scheduler (no scheduled checks), until the end."""
    pools, exits = Executors(1), ExitWatch()
    schedule = Schedule([watch], pools, exits, FileEvents(), interval_s=60,
                        job_failed=lambda name, exc: None, checked=lambda: None)
    stopping = asyncio.Event()
    task = asyncio.create_task(schedule.run(stopping, with_checks=False))
    try:
        yield schedule
    finally:
        stopping.set()
        await asyncio.wait_for(task, 5)
        pools.close()
        exits.close()


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
    async with scheduled(rig.watch):
        await asyncio.sleep(1.5)
        assert len(looks) <= 2  # the look at the start: anything due? and until when
        rig.watch.recheck_due_mono = rig.clock.monotonic()
        rig.watch.on_change()  # what ``_act`` calls after a restart
        await until(lambda: checks == [CheckTrigger.AFTER_RESTART])


async def test_maintenance_that_is_over_ends_when_the_loop_wakes(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loops, "SAFETY_POLL_S", 3600.0)
    running(rig)
    async with scheduled(rig.watch):
        await asyncio.sleep(0.1)
        rig.watch.maintenance(rig.clock.now() + timedelta(seconds=60), "cli:ana", "upgrade")
        rig.clock.advance(60)  # the fake clock says it is over; the alarm is ≤ 60 s real
        await until(lambda: rig.watch.supervisor.maintenance_until is None)
