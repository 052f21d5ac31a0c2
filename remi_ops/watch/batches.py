"""The hand-off of routine work (scheduled checks, probes) to the check threads, in batches.

Handing one check to a pool thread and its result back costs the loop a future, a
``ThreadPoolExecutor`` queue put, a worker's wake-up and the loop's own wake-up, and a
check run alone costs four times what it costs right after another's (caches gone cold:
:mod:`remi_ops.watch.timers`). Here the jobs submitted in one turn of the loop
(:class:`~remi_ops.watch.timers.Timers` fires the checks due together, and those whose
slack lets them come along) go to the pool as one batch, run in turn on one thread; a
batch's results come back through one wake-up of the loop when it is over (or when the
loop looks at a batch still running, ``STEAL_AFTER_S`` on): a wake-up of the loop per
result made the loop and the check thread take the GIL from each other after every check.

What "never queues" (issue 12, item 2) still asks, and how it is kept:

* one job per target at a time: a job first takes its target's lane
  (:class:`~remi_ops.watch.executors.Lanes`), as every other job of that target does;
* a batch runs on one thread for ``STEAL_AFTER_S`` at most: the loop then takes the jobs
  not yet begun and hands them on as a batch of their own, to another thread. A slow job
  (a hung ``py-spy``, a check that has a restart to carry out) holds nothing but itself
  for longer, and a burst too large for one thread in that time spreads over the pool
  (200 checks at start: a thread more every ``STEAL_AFTER_S``);
* deaths, due actions, scan tests and operators' verbs are not batched: they keep their
  own pools and lanes (:mod:`remi_ops.watch.executors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from remi_ops.watch.executors import Lanes

log = logging.getLogger(__name__)
#: a batch running longer than this on its thread has the jobs it has not begun handed on
STEAL_AFTER_S = 0.05


class _Job:
    __slots__ = ("args", "fn", "fut", "lane")

    def __init__(self, lane: str, fn: Callable[..., Any], args: tuple[Any, ...],
                 fut: asyncio.Future[Any]) -> None:
        self.lane, self.fn, self.args, self.fut = lane, fn, args, fut


class _Batch:
    """Jobs one thread runs in turn; the loop may take those not yet begun."""

    __slots__ = ("began", "jobs", "over", "watching")

    def __init__(self, jobs: list[_Job]) -> None:
        self.jobs = deque(jobs)  # popleft by the thread and by the loop: atomic either way
        self.began: float | None = None  # when its thread began it (time.monotonic)
        self.over = False
        self.watching: asyncio.TimerHandle | None = None  # the loop's look at a long batch


class Batches:
    """Jobs submitted on the loop, run in batches in ``pool``, each in its lane."""

    def __init__(self, pool: ThreadPoolExecutor, lanes: Lanes, *,
                 steal_after_s: float = STEAL_AFTER_S) -> None:
        self.pool = pool
        self.lanes = lanes
        self.steal_after_s = steal_after_s
        self._ready: list[_Job] = []
        self._flush_due = False
        #: (job, result, error) from the threads, and each batch once it is over; drained
        #: on the loop
        self._done: deque[tuple[_Job, Any, BaseException | None] | _Batch] = deque()
        self._drain_due = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.handed = 0  # how many batches went to the pool (a test, a bench reads it)

    def submit(self, lane: str, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run ``fn(*args)`` in ``lane`` with the jobs submitted in this turn of the loop."""
        loop = self._loop = asyncio.get_running_loop()
        job = _Job(lane, fn, args, loop.create_future())
        self.lanes.when_free(lane, lambda: self._ready_to_go(job))
        return job.fut

    def _ready_to_go(self, job: _Job) -> None:
        if job.fut.done():  # cancelled while it waited for its lane
            self.lanes.release(job.lane)
            return
        self._ready.append(job)
        if not self._flush_due and self._loop is not None:
            self._flush_due = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        ready, self._ready = self._ready, []
        if ready:
            self._hand(_Batch(ready))

    def _hand(self, batch: _Batch) -> None:
        self.handed += 1
        try:
            self.pool.submit(self._run, batch)
        except RuntimeError as exc:  # the pool was shut down: the watcher is stopping
            for job in batch.jobs:
                self._finished(job, None, exc)
            return
        if self._loop is not None:
            batch.watching = self._loop.call_later(self.steal_after_s, self._steal, batch)

    def _steal(self, batch: _Batch) -> None:
        """Take the results ``batch`` has made so far, and hand on its jobs not yet begun
        once it has run ``steal_after_s`` on its thread."""
        self._drain()
        if batch.over or not batch.jobs or self._loop is None:
            return
        began = batch.began
        if began is None or time.monotonic() - began < self.steal_after_s:
            # not begun (every thread busy: stealing would only queue it again), or
            # begun just now: look again when it would have run that long
            wait = self.steal_after_s if began is None else \
                began + self.steal_after_s - time.monotonic()
            batch.watching = self._loop.call_later(max(wait, 0.001), self._steal, batch)
            return
        rest: list[_Job] = []
        while True:
            try:
                rest.append(batch.jobs.popleft())
            except IndexError:
                break
        if rest:
            log.debug("a batch ran %.0f ms: %d jobs handed on", self.steal_after_s * 1000,
                      len(rest))
            self._hand(_Batch(rest))

    def _run(self, batch: _Batch) -> None:
        """In a check thread: each job in turn, its result kept for the loop, which is
        woken once the batch is over (a slow job's batch is drained by ``_steal``)."""
        batch.began = time.monotonic()
        while True:
            try:
                job = batch.jobs.popleft()
            except IndexError:
                break
            outcome: tuple[_Job, Any, BaseException | None]
            try:
                outcome = (job, job.fn(*job.args), None)
            except BaseException as exc:
                outcome = (job, None, exc)
            self._done.append(outcome)
        batch.over = True
        self._post(batch)

    def _post(self, batch: _Batch) -> None:
        """One wake-up of the loop for every burst of batches over (the flag is cleared
        before the drain reads, so a batch over meanwhile is either drained or posts again)."""
        self._done.append(batch)
        if not self._drain_due and self._loop is not None:
            self._drain_due = True
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody awaits them
                self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        self._drain_due = False
        while True:
            try:
                outcome = self._done.popleft()
            except IndexError:
                return
            if isinstance(outcome, _Batch):  # over: no look for a slow job is needed
                if outcome.watching is not None:
                    outcome.watching.cancel()
            else:
                self._finished(*outcome)

    def _finished(self, job: _Job, result: Any, error: BaseException | None) -> None:
        self.lanes.release(job.lane)
        if job.fut.done():
            return
        if error is not None:
            job.fut.set_exception(error)
        else:
            job.fut.set_result(result)
