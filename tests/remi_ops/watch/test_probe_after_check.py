"""A target's probe counts its safety look from the last look at the same files: a check
that just read the logs and the beacon makes the probe's own look wait, a file change
or the beacon's deadline never does (real asyncio loop, real time, short intervals)."""

from __future__ import annotations

import asyncio

import pytest

from remi_ops.watch import fileevents, loops
from remi_ops.watch.fileevents import Wake
from remi_ops.watch.loops import on_change

POLL_S = 0.2


async def probes_in(seconds: float, **kwargs: object) -> tuple[int, Wake]:
    """How often ``on_change`` runs its step in ``seconds`` (its first run included)."""
    wake, stopping, runs = Wake(), asyncio.Event(), [0]

    async def step() -> None:
        runs[0] += 1

    task = asyncio.create_task(on_change(wake, stopping, step, "probe", **kwargs))  # type: ignore[arg-type]
    await asyncio.sleep(seconds)
    stopping.set()
    await asyncio.wait_for(task, 2)
    return runs[0], wake


@pytest.fixture(autouse=True)
def short_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fileevents, "POLL_S", POLL_S)


async def test_the_safety_look_waits_for_a_check_that_just_looked() -> None:
    alone, _ = await probes_in(1.0)
    assert alone >= 4  # every POLL_S
    after_checks, _ = await probes_in(1.0, looked_ago=lambda: 0.0)
    assert after_checks == 1  # the first run only: a check always just looked


async def test_a_look_long_ago_does_not_hold_the_safety_look() -> None:
    runs, _ = await probes_in(1.0, looked_ago=lambda: POLL_S * 10)
    assert runs >= 4
    runs, _ = await probes_in(1.0, looked_ago=lambda: None)  # no check yet
    assert runs >= 4


async def test_the_beacon_deadline_comes_whatever_a_check_did() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    runs, _ = await probes_in(0.6, looked_ago=lambda: 0.0,
                              deadline=lambda last: start + 0.3)
    assert runs == 2  # the first run, then the deadline's


async def test_a_change_wakes_the_probe_whatever_a_check_did() -> None:
    wake, stopping, runs = Wake(), asyncio.Event(), [0]

    async def step() -> None:
        runs[0] += 1

    task = asyncio.create_task(on_change(wake, stopping, step, "probe",
                                         looked_ago=lambda: 0.0))
    await asyncio.sleep(0.5)
    assert runs[0] == 1
    wake.event.set()
    await asyncio.sleep(loops.CHANGE_MIN_GAP_S + 0.2)  # at most one run a gap
    assert runs[0] == 2
    stopping.set()
    await asyncio.wait_for(task, 2)
