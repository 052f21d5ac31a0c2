"""One scheduler for every target's timed work: checks, probes, due actions, deaths.

The watcher's per-target work used to be four coroutines per target, asleep most of the
time (:mod:`remi_ops.watch.loops`). Here it is one coroutine for the whole watcher: each
target is a :class:`~remi_ops.watch.target_timers.TargetTimers` record, its timed
wake-ups entries in one heap (:mod:`remi_ops.watch.timers`), its routine work (scheduled
checks, probes) handed to the check threads in batches (:mod:`remi_ops.watch.batches`),
its due actions and deaths to the pools they always went to. A task exists only while
work runs. A target whose manager the shared exit waiter cannot watch (no real pid: a test
fake, a remote manager) keeps the old exit waiter, a loop of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any

from remi_ops import host
from remi_ops.host.exitwatch import ExitWatch
from remi_ops.watch.batches import Batches
from remi_ops.watch.executors import Executors
from remi_ops.watch.fileevents import FileEvents
from remi_ops.watch.intake import log_streams
from remi_ops.watch.loops import exit_waiter
from remi_ops.watch.target import TargetWatch
from remi_ops.watch.target_timers import TargetTimers
from remi_ops.watch.timers import Timers

#: how early a periodic check or a safety look may come to run with others (a share of
#: the check interval, at most ``SLACK_MAX_S``): see :mod:`remi_ops.watch.timers`
SLACK_SHARE = 0.05
SLACK_MAX_S = 3.0


def slack_for(interval_s: float) -> float:
    return min(SLACK_SHARE * interval_s, SLACK_MAX_S)


def watched_files(watch: TargetWatch) -> list[Path]:
    """The files whose change wakes ``watch``'s probe: its logs and its beacon."""
    return [*log_streams(watch.target).values(), watch.target.beacon_file]


def beacon_stale_at(watch: TargetWatch, last_change: float) -> float:
    """When a beacon last rewritten at ``last_change`` (loop time) reads as stale, so the
    probe looks then although no file changed (a frozen Remi writes nothing)."""
    h = watch.target.health
    return last_change + max(h.beacon_stale_s, h.hang_threshold_s) + 1.0


class Schedule:
    """Every target's wake-ups under one heap, from ``run`` until its ``stopping``."""

    def __init__(self, watches: Iterable[TargetWatch], pools: Executors, exits: ExitWatch,
                 files: FileEvents, *, interval_s: float,
                 job_failed: Callable[[str, BaseException], None],
                 checked: Callable[[], None]) -> None:
        # the wakes now, before the file watcher starts: it watches the folders they need
        self.wakes = [(watch, files.for_files(watched_files(watch))) for watch in watches]
        self.pools, self.exits, self.interval_s = pools, exits, interval_s
        self.slack_s = slack_for(interval_s)
        self.job_failed = job_failed
        self._checked = checked
        self.beacon_stale_at = beacon_stale_at
        self.loop: asyncio.AbstractEventLoop  # these three once ``run`` began
        self.timers: Timers
        self.batches: Batches
        self.records: list[TargetTimers] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.stopped = False
        self.submitted = 0  # jobs handed to ``batches`` (a test compares its hand-offs)
        self._checked_due = False

    async def run(self, stopping: asyncio.Event, *, with_checks: bool = True) -> None:
        """Start every target's work (a probe and a first check now), then keep it going
        until ``stopping`` is set; everything still running is cancelled then."""
        self.loop = loop = asyncio.get_running_loop()
        self.timers = Timers(loop, slack_max_s=self.slack_s)
        self.batches = Batches(self.pools.checks, self.pools.lanes)
        for watch, wake in self.wakes:
            record = TargetTimers(self, watch, wake)
            record.shared_exits = isinstance(watch.manager, host.BaseManager)
            self.listen(watch, record)
            self.records.append(record)
            if not record.shared_exits:
                self.spawn(exit_waiter(watch, stopping, self.exits, self.pools))
        for record in self.records:
            record.start(with_checks=with_checks)
        try:
            await stopping.wait()
        finally:
            await self.stop()

    async def stop(self) -> None:
        self.stopped = True
        self.timers.close()
        for record in self.records:
            record.stop()
        for task in list(self.tasks):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self.tasks, return_exceptions=True)

    def listen(self, watch: TargetWatch, record: TargetTimers) -> None:
        """``watch.on_change`` (called from the pools' threads) wakes ``record`` on the
        loop; listeners added before still hear it."""
        loop, before = self.loop, watch.on_change

        def wake() -> None:
            before()
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
                loop.call_soon_threadsafe(record.changed)

        watch.on_change = wake

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """A task for work that runs now (not for a wait), kept until it ends."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def submit(self, lane: str, fn: Callable[..., object], *args: object,
               then: Callable[[BaseException | None], None]) -> None:
        """``fn(*args)`` in ``lane``, batched with the jobs submitted in this turn of the
        loop; ``then(error)`` on the loop once it ended (not after the stop)."""
        def done(fut: asyncio.Future[Any]) -> None:
            if not self.stopped:
                then(None if fut.cancelled() else fut.exception())

        self.submitted += 1
        self.batches.submit(lane, fn, *args).add_done_callback(done)

    def after_check(self) -> None:
        """A scheduled check ended: the dead-man ping is told once for every burst of
        checks that end together (it reads every target's last report)."""
        if not self._checked_due:
            self._checked_due = True
            self.loop.call_soon(self._tell_checked)

    def _tell_checked(self) -> None:
        self._checked_due = False
        if not self.stopped:
            self._checked()
