"""The watcher's own thread pools, so checks never queue behind waiting (or each other).

A ``TargetWatch`` method blocks (psutil, files, SQLite, signals) and runs in a worker
thread. On asyncio's default pool those workers were shared with everything else in the
process: at 50 targets the exit waiters held them all and a check waited 7.5 s. Here:

* ``checks`` — every check, probe, exit handling and due action, at most
  ``min(targets, CHECK_WORKERS_MAX)`` threads. Each target has a *lane*: one of its jobs
  in the pool at a time (they take turns on the watch's lock anyway), the rest wait on
  the loop, not in a thread — so one slow target holds one thread, never the pool.
* ``deaths`` — handling a death (restart, then a check), outside the lanes and beside
  the checks: a death never queues behind routine checks, only behind its own target's
  lock; at most ``min(targets, DEATH_WORKERS_MAX)`` threads.
* ``scans`` — the out-of-band scan test (a command that may run for its whole timeout),
  beside the checks, not in their way; one per target at a time as well.
* ``waits`` — a thread per target, only for a process manager the shared
  :class:`~remi_ops.host.exitwatch.ExitWatch` cannot watch (one that names no real pid,
  such as the test fakes), waited the old way, in slices.

Threads are made when work arrives (an idle pool costs nothing) and the pools are shut
down by :meth:`Executors.close` (``Watcher.close``).
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
#: more than this many threads for checks buys nothing on a small host: a check is
#: mostly waiting for /proc and SQLite, and each target has one lane anyway
CHECK_WORKERS_MAX = 8
SCAN_WORKERS_MAX = 4
#: a burst of deaths (several Remis killed at once) gets a thread each up to this, so
#: the last one is noticed (its transition recorded) at once, not after the others'
#: restarts: with 4, the fifth of five killed at once waited for a whole restart
DEATH_WORKERS_MAX = 16


class Executors:
    """The checks, deaths, scans and waits pools of one watcher, and each target's lanes."""

    def __init__(self, targets: int, *, check_workers_max: int = CHECK_WORKERS_MAX) -> None:
        size = max(1, targets)
        self.checks = ThreadPoolExecutor(min(size, check_workers_max),
                                         thread_name_prefix="remi-check")
        self.deaths = ThreadPoolExecutor(min(size, DEATH_WORKERS_MAX),
                                         thread_name_prefix="remi-death")
        self.scans = ThreadPoolExecutor(min(size, SCAN_WORKERS_MAX),
                                        thread_name_prefix="remi-scan")
        self.waits = ThreadPoolExecutor(size, thread_name_prefix="remi-wait")
        self.lanes = Lanes()

    async def check(self, target: str, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` in the checks pool, in ``target``'s lane."""
        return await self._run(self.checks, target, fn, *args)

    async def death(self, fn: Callable[..., T], *args: object) -> T:
        """Handle a death now, in the deaths pool (its target's lock orders it)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.deaths, functools.partial(fn, *args))

    async def scan(self, target: str, fn: Callable[..., T], *args: object) -> T:
        """Run a scan test in the scans pool, one per target at a time."""
        return await self._run(self.scans, f"{target} (scan)", fn, *args)

    async def wait(self, fn: Callable[..., T], *args: object) -> T:
        """A blocking wait in a thread of its own (a manager the shared waiter cannot watch)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.waits, functools.partial(fn, *args))

    async def _run(self, pool: ThreadPoolExecutor, lane: str, fn: Callable[..., T],
                   *args: object) -> T:
        loop = asyncio.get_running_loop()
        await self.lanes.take(lane)
        try:
            return await loop.run_in_executor(pool, functools.partial(fn, *args))
        finally:
            self.lanes.release(lane)

    def close(self) -> None:
        """Stop taking work; queued jobs are dropped, running ones finish on their own."""
        self.lanes.clear()
        for pool in (self.checks, self.deaths, self.scans, self.waits):
            pool.shutdown(wait=False, cancel_futures=True)


class Lanes:
    r"""One job per lane (a target) at a time; the others wait on the loop, in order.

    Plain callbacks, so the batched hand-off (:mod:`remi_ops.watch.batches`) can take a
    lane without a task: ``when_free`` calls back at once when the lane is free, else
    once the job before it ``release``\ s it. Loop thread only.
    """

    def __init__(self) -> None:
        self._busy: set[str] = set()
        self._queued: dict[str, deque[Callable[[], None]]] = {}

    def when_free(self, name: str, then: Callable[[], None]) -> None:
        """Call ``then`` once the lane ``name`` is held for it (now, if it is free)."""
        if name not in self._busy:
            self._busy.add(name)
            then()
            return
        self._queued.setdefault(name, deque()).append(then)

    def release(self, name: str) -> None:
        """The job holding ``name`` is over: the lane goes to the next in line, if any."""
        queue = self._queued.get(name)
        if queue:
            then = queue.popleft()
            if not queue:
                del self._queued[name]
            then()  # the lane stays held, now for it
            return
        self._busy.discard(name)

    def busy(self, name: str) -> bool:
        return name in self._busy

    async def take(self, name: str) -> None:
        """Wait until the lane ``name`` is held for the caller (who must ``release`` it)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def given() -> None:
            if fut.cancelled():  # its waiter gave up: pass the lane on
                self.release(name)
            else:
                fut.set_result(None)

        self.when_free(name, given)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # given, then cancelled before it ran
                self.release(name)
            raise

    def clear(self) -> None:
        self._busy.clear()
        self._queued.clear()
