"""A target's probe counts its safety look from the last look at the same files: a check
that just read the logs and the beacon makes the probe's own look wait, a file change
or the beacon's deadline never does (the scheduler's real timers on a real asyncio loop,
real time, short intervals; the target is a hand-written stand-in that counts probes)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from remi_ops.clock import SystemClock
from remi_ops.watch import fileevents, loops
from remi_ops.watch.fileevents import Wake
from remi_ops.watch.target_timers import TargetTimers
from remi_ops.watch.timers import Timers

POLL_S = 0.2


@dataclass
class Looked:
    """A last report read ``ago()`` seconds ago (None: no check yet)."""

    ago: Callable[[], float | None]

    @property
    def checked_at(self) -> datetime:
        ago = self.ago()
        assert ago is not None
        return datetime.now().astimezone() - timedelta(seconds=ago)


@dataclass
class Target:
    """What the probe's part of ``TargetTimers`` reads of a ``TargetWatch``."""

    looked_ago: Callable[[], float | None]
    name: str = "remi"
    clock: SystemClock = field(default_factory=SystemClock)
    probes: int = 0

    @property
    def last_report(self) -> Looked | None:
        return None if self.looked_ago() is None else Looked(self.looked_ago)

    def probe(self) -> bool:
        self.probes += 1
        return False


class Sched:
    """The scheduler's side a probe uses: its timers, and jobs run at once on the loop."""

    def __init__(self, deadline: Callable[[float], float], interval_s: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.interval_s = interval_s
        self.slack_s = 0.0
        self.timers = Timers(self.loop)
        self.stopped = False
        self.deadline = deadline

    def beacon_stale_at(self, watch: Any, last_change: float) -> float:
        return self.deadline(last_change)

    def submit(self, lane: str, fn: Callable[..., object], *args: object,
               then: Callable[[BaseException | None], None]) -> None:
        fn(*args)
        self.loop.call_soon(then, None)

    def job_failed(self, name: str, exc: BaseException) -> None:
        raise AssertionError(f"{name}: {exc}")


async def probed(seconds: float, looked_ago: Callable[[], float | None] = lambda: None,
                 deadline: Callable[[float], float] = lambda last: last + 3600,
                 change_after: float | None = None, *, events: bool = False,
                 interval_s: float = 60.0) -> int:
    """How often the probe runs in ``seconds`` (its first run included); ``events``: its
    folders are watched (inotify), checks ``interval_s`` apart."""
    target, sched, wake = Target(looked_ago), Sched(deadline, interval_s), Wake()
    wake.watched = events
    record = TargetTimers(sched, target, wake)  # type: ignore[arg-type]  # stand-ins, above
    record.last_change = sched.loop.time()
    record.run_probe()
    if change_after is not None:
        await asyncio.sleep(change_after)
        assert target.probes == 1
        wake.event.set()
        seconds -= change_after
    await asyncio.sleep(seconds)
    sched.stopped = True
    sched.timers.close()
    return target.probes


@pytest.fixture(autouse=True)
def short_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fileevents, "POLL_S", POLL_S)
    monkeypatch.setattr(fileevents, "SAFETY_POLL_S", POLL_S)


async def test_the_safety_look_waits_for_a_check_that_just_looked() -> None:
    assert await probed(1.0) >= 4  # every POLL_S
    assert await probed(1.0, looked_ago=lambda: 0.0) == 1  # a check always just looked


async def test_a_look_long_ago_does_not_hold_the_safety_look() -> None:
    assert await probed(1.0, looked_ago=lambda: POLL_S * 10) >= 4


async def test_the_beacon_deadline_comes_whatever_a_check_did() -> None:
    start = asyncio.get_running_loop().time()
    runs = await probed(0.6, looked_ago=lambda: 0.0, deadline=lambda last: start + 0.3)
    assert runs == 2  # the first run, then the deadline's


async def test_a_change_wakes_the_probe_whatever_a_check_did() -> None:
    """Once, after the gap: at most one run a ``CHANGE_MIN_GAP_S``."""
    runs = await probed(0.5 + loops.CHANGE_MIN_GAP_S + 0.2, looked_ago=lambda: 0.0,
                        change_after=0.5)
    assert runs == 2


async def test_with_file_events_the_checks_are_the_safety_look() -> None:
    """Watched by inotify, the probe's own safety look (every ``SAFETY_POLL_S``) would
    fall between two checks that read the same files: it waits for them instead, and
    comes only when no check looked for an interval and a half."""
    loop = asyncio.get_running_loop()
    start = loop.time()

    def every_interval() -> float:  # a check every 0.4 s, the last one this long ago
        return (loop.time() - start) % 0.4

    assert await probed(1.5, looked_ago=every_interval, events=True, interval_s=0.4) == 1
    # no check for long: the safety look every 1.5 intervals (0.6 s)
    assert await probed(1.5, looked_ago=lambda: 100.0, events=True, interval_s=0.4) == 3
    assert await probed(1.5, events=True, interval_s=0.4) == 3  # no check yet
