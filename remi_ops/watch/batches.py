"""The hand-off of routine work (scheduled checks, probes) to the check threads, in batches.

Handing one check to a pool thread and its result back costs the loop a future, a
``ThreadPoolExecutor`` queue put, a worker's wake-up and the loop's own wake-up: at 200
targets, 15–20 % of an idle watcher's samples (``bench/profile_watch.py --py-spy``), one
by one even when many checks fall due in the same instant. Here the jobs submitted in one
turn of the loop (:class:`~remi_ops.watch.timers.Timers` fires alarms due within a few ms
together) go to the pool as batches of at most ``BATCH_MAX``, each run in turn on one
thread; results come back through one wake-up of the loop for every burst of them.

What "never queues" (issue 12, item 2) still asks, and how it is kept:

* one job per target at a time: a job first takes its target's lane
  (:class:`~remi_ops.watch.executors.Lanes`), as every other job of that target does;
* a slow job (a hung ``py-spy``, a check that has a restart to carry out) holds only the
  jobs after it in its batch, and only for ``STEAL_AFTER_S``: the loop then takes the
  ones not yet begun and hands them on as a batch of their own, to another thread;
* batches of at most ``BATCH_MAX``, so the pool's other threads share a burst at once;
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
#: at most this many jobs run in turn on one thread; a burst larger than that is spread
#: over the pool's threads (8 at most), so 200 checks due together are 13 hand-offs
BATCH_MAX = 16
#: a job running longer than this lets the loop hand the rest of its batch on
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
        self.began: float | None = None  # the running job's start (time.monotonic)
        self.over = False
        self.watching: asyncio.TimerHandle | None = None  # the loop's look for a slow job


class Batches:
    """Jobs submitted on the loop, run in batches in ``pool``, each in its lane."""

    def __init__(self, pool: ThreadPoolExecutor, lanes: Lanes, *,
                 batch_max: int = BATCH_MAX, steal_after_s: float = STEAL_AFTER_S) -> None:
        self.pool = pool
        self.lanes = lanes
        self.batch_max = batch_max
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
        for start in range(0, len(ready), self.batch_max):
            self._hand(_Batch(ready[start:start + self.batch_max]))

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
        """Hand on the jobs of ``batch`` not yet begun if its job now is slow."""
        if batch.over or not batch.jobs or self._loop is None:
            return
        began = batch.began
        if began is None or time.monotonic() - began < self.steal_after_s:
            # not begun (every thread busy: stealing would only queue it again), or
            # its job now is young: look again when that one would be slow
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
            log.debug("a slow job held %d others: handed on", len(rest))
            self._hand(_Batch(rest))

    def _run(self, batch: _Batch) -> None:
        """In a check thread: each job in turn, each result posted as it ends."""
        while True:
            try:
                job = batch.jobs.popleft()
            except IndexError:
                break
            batch.began = time.monotonic()
            outcome: tuple[_Job, Any, BaseException | None]
            try:
                outcome = (job, job.fn(*job.args), None)
            except BaseException as exc:
                outcome = (job, None, exc)
            self._post(outcome)
        batch.over = True
        self._post(batch)

    def _post(self, outcome: tuple[_Job, Any, BaseException | None] | _Batch) -> None:
        """One wake-up of the loop for every burst of results (the flag is cleared before
        the drain reads, so a result appended meanwhile is either drained or posts again)."""
        self._done.append(outcome)
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
