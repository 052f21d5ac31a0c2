"""The async driver's parts: what is due and how it is carried out, the watcher's own
loops (``periodic``, ``on_change``: the spool, the outbox prune, the metrics) and the exit
waiter of a manager the shared waiter cannot watch. Every target's own timed work runs
under one scheduler (:mod:`remi_ops.watch.schedule`), which uses what is here.

Blocking work (every ``TargetWatch`` method) runs in the watcher's own pools
(:mod:`remi_ops.watch.executors`), so the loop that drives it — the headless
``remi-ops watch`` or Bubabot's — never blocks, and no check queues behind a wait.
Deaths come from the shared :class:`~remi_ops.host.exitwatch.ExitWatch`: no thread waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from remi_ops import host
from remi_ops.domain import CheckTrigger, ExitInfo, ProcessIdentity
from remi_ops.host.exitwatch import ExitWatch
from remi_ops.supervision.states import State
from remi_ops.watch.executors import Executors
from remi_ops.watch.fileevents import Wake
from remi_ops.watch.stopwake import also_on_stop
from remi_ops.watch.target import TargetWatch

log = logging.getLogger(__name__)
T = TypeVar("T")
#: a waiter whose own manager cannot be watched by the shared waiter (a test fake) asks
#: it in slices this long
EXIT_WAIT_SLICE_S = 1.0
#: the safety re-read of a loop that is otherwise woken by events only (the target's
#: ``on_change``, the shared waiter): a change that forgot to say so is seen this late.
#: Every check is a look too: it compares what these loops wait on with what they last
#: heard and wakes them when it moved (``wakes.wake_if_changed``), so their own look
#: can be rare — at 30 s, the exit waiter's and the due loop's wake-ups of 200 idle
#: targets (800 a minute) cost about as much CPU as supervisord's whole idle
SAFETY_POLL_S = 300.0
#: after a failed exit handling, wait this long (doubling up to the cap) before the next
#: try: a dead process is "exited" again at once, so without it the waiter spins hot
EXIT_RETRY_INITIAL_S = 0.5
EXIT_RETRY_MAX_S = 30.0


async def guarded(name: str, step: Callable[[], Awaitable[object]],
                  on_error: Callable[[str, BaseException], None] | None = None,
                  target: str | None = None) -> None:
    """Run one step; an error is logged (and reported) instead of killing the loop."""
    try:
        await step()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("%s failed", name, extra={"target": target} if target else None)
        if on_error is not None:
            on_error(name, exc)


async def exit_waiter(watch: TargetWatch, stopping: asyncio.Event,
                      exits: ExitWatch | None = None, pools: Executors | None = None) -> None:
    """Await the supervised process's death and hand it to the watch.

    With ``exits`` (the watcher's shared waiter) nothing waits in a thread: the death is
    an event on the loop. A manager it cannot watch (no real pid: a test fake) is waited
    the old way, in 1-s slices, in a thread of the ``waits`` pool.
    """
    changed = listen(watch)
    manager = watch.manager
    shared = exits if isinstance(manager, host.BaseManager) else None
    pending: _Pending | None = None
    failures = 0
    try:
        while not stopping.is_set():
            ident = watch.supervisor.process
            if pending is not None and pending.ident != ident:
                pending.task.cancel()  # another process now (restart, stop): let it go
                pending = None
            if ident is None:
                await _until(changed, SAFETY_POLL_S, stopping)
                continue
            try:
                if shared is not None and isinstance(manager, host.BaseManager):
                    pending = pending or _Pending(ident, shared, changed)
                    info = await pending.result(changed, stopping)
                    if info is not None:
                        pending = None
                        info = await _death(pools, manager.exit_status, info)
                else:
                    info = await _sliced(pools, watch, ident)
                if info is not None:
                    await _death(pools, watch.handle_exit, info)
            except Exception:
                log.exception("waiting for or handling an exit failed",
                              extra={"target": watch.name})
                pending = None
                failures += 1
                await pause(stopping, exit_retry_delay(failures))
            else:
                failures = 0
    finally:
        if pending is not None:
            pending.task.cancel()


def listen(watch: TargetWatch) -> asyncio.Event:
    """An event set whenever ``watch`` says something changed (a process started or
    ended, an action, maintenance): what wakes the loops that otherwise sleep.

    ``on_change`` is called from the pools' threads; each listener added chains to the
    ones before, so the exit waiter and the due loop both hear every change.
    """
    changed = asyncio.Event()
    loop = asyncio.get_running_loop()
    before = watch.on_change

    def wake() -> None:
        before()
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
            loop.call_soon_threadsafe(changed.set)

    watch.on_change = wake
    return changed


class _Pending:
    """One await of the shared waiter for one process, kept across wake-ups."""

    def __init__(self, ident: ProcessIdentity, exits: ExitWatch, changed: asyncio.Event) -> None:
        self.ident = ident
        self.task = asyncio.ensure_future(exits.exited(ident))
        self.task.add_done_callback(lambda _: changed.set())

    async def result(self, changed: asyncio.Event,
                     stopping: asyncio.Event | None = None) -> ExitInfo | None:
        """Its exit once it came; None when woken (or the safety re-read came) before that.

        The task itself sets ``changed`` when the death comes, so no slice is needed: the
        safety re-read only guards a change of process that forgot to call ``on_change``.
        """
        if not self.task.done():
            await _until(changed, SAFETY_POLL_S, stopping)
        return self.task.result() if self.task.done() else None


async def _until(event: asyncio.Event, timeout_s: float,
                 stopping: asyncio.Event | None = None) -> None:
    """Wait for ``event`` (then clear it), ``stopping`` or ``timeout_s``, whichever comes
    first (the safety look is minutes apart: a stop must not wait for it)."""
    if stopping is None:
        await set_or_timeout(event, timeout_s)
    else:
        await first_of(stopping, event, timeout_s)
    event.clear()


async def set_or_timeout(event: asyncio.Event, timeout_s: float) -> None:
    """Wait until ``event`` is set or ``timeout_s`` passed.

    ``asyncio.timeout``, not ``wait_for``: ``wait_for`` wraps the wait in a task of its own,
    about 1 KB more for every loop asleep in it — four per target (docs/scale.md, "Memory").
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()


async def _sliced(pools: Executors | None, watch: TargetWatch,
                  ident: ProcessIdentity) -> ExitInfo | None:
    """The old way, for a manager the shared waiter cannot watch: a thread, 1-s slices."""
    if pools is None:
        return await asyncio.to_thread(watch.manager.wait_exit, ident, EXIT_WAIT_SLICE_S)
    return await pools.wait(watch.manager.wait_exit, ident, EXIT_WAIT_SLICE_S)


async def _death(pools: Executors | None, fn: Callable[..., T], *args: Any) -> T:
    """A death's handling: in the deaths pool, never queued behind routine checks."""
    if pools is None:
        return await asyncio.to_thread(fn, *args)
    return await pools.death(fn, *args)


async def _run(pools: Executors | None, target: str, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in the target's lane of the checks pool (a thread of its own without)."""
    if pools is None:
        return await asyncio.to_thread(fn, *args)
    return await pools.check(target, fn, *args)


def exit_retry_delay(failures: int) -> float:
    """The pause after the ``failures``-th failed handling in a row (bounded exponent)."""
    return min(EXIT_RETRY_MAX_S, EXIT_RETRY_INITIAL_S * 2.0 ** min(max(failures - 1, 0), 16))


async def pause(stopping: asyncio.Event, seconds: float) -> None:
    await set_or_timeout(stopping, seconds)


async def periodic(interval_s: float, stopping: asyncio.Event,
                   step: Callable[[], Awaitable[object]], name: str,
                   on_error: Callable[[str, BaseException], None] | None = None, *,
                   target: str | None = None) -> None:
    """Run ``step`` every ``interval_s`` seconds until ``stopping`` is set."""
    while not stopping.is_set():
        await guarded(name, step, on_error, target)
        await set_or_timeout(stopping, interval_s)


async def due_pass(watch: TargetWatch, pools: Executors | None) -> None:
    """Carry out what is due now, in order: the policy's attempt or the end of
    maintenance, the recheck after a restart, its scan test (each error logged)."""
    if watch.seconds_until_due() == 0 or maintenance_over(watch):
        await guarded(f"{watch.name}: tick", lambda: _run(pools, watch.name, watch.tick),
                      target=watch.name)
    if watch.recheck_due():
        await guarded(f"{watch.name}: check", lambda: _run(
            pools, watch.name, watch.check, CheckTrigger.AFTER_RESTART), target=watch.name)
    if watch.scan_due() and still_up_for_its_test(watch):
        await guarded(f"{watch.name}: scan test", lambda: _scan(pools, watch),
                      target=watch.name)


def anything_due(watch: TargetWatch) -> bool:
    """Whether ``due_pass`` has something to do now (a look only: nothing is cleared)."""
    mono = watch.clock.monotonic()
    return (watch.seconds_until_due() == 0 or maintenance_over(watch)
            or any(due is not None and mono >= due
                   for due in (watch.recheck_due_mono, watch.scan_due_mono)))


#: the states in which the process a restart started is still there to be tested
UP_STATES = frozenset({State.STARTING, State.RUNNING, State.UNHEALTHY})


def still_up_for_its_test(watch: TargetWatch) -> bool:
    """A scan test after a restart tests the process that restart started: if it went down
    before the test was due (killed right after a manual restart, say), a test now would
    report "passed" beside a Remi in backoff. It is dropped; the next start arms its own."""
    due, state = watch.scan_due_mono, watch.supervisor.state
    if state in UP_STATES:
        return True
    if watch.scan_due_mono == due:  # not re-armed by a restart in the meantime
        watch.scan_due_mono = None
    log.info("%s: the scan test after the restart is not run: %s is %s now "
             "(the next start runs its own)", watch.name, watch.name, state)
    return False


#: never sleep less than this (a due time in the past is carried out at the next wake)
DUE_MIN_SLEEP_S = 0.05


def seconds_until_next_due(watch: TargetWatch) -> float:
    """How long the due loop may sleep: until the earliest of the policy's next attempt,
    the end of maintenance, the recheck and the scan test; ``SAFETY_POLL_S`` at most."""
    mono = watch.clock.monotonic()
    waits = [watch.seconds_until_due(), _maintenance_left(watch),
             *(None if due is None else due - mono
               for due in (watch.recheck_due_mono, watch.scan_due_mono))]
    known = [w for w in waits if w is not None]
    return min(max(min(known, default=SAFETY_POLL_S), DUE_MIN_SLEEP_S), SAFETY_POLL_S)


def _maintenance_left(watch: TargetWatch) -> float | None:
    until = watch.supervisor.maintenance_until
    return None if until is None else (until - watch.clock.now()).total_seconds()


def maintenance_over(watch: TargetWatch) -> bool:
    left = _maintenance_left(watch)
    return left is not None and left <= 0


async def first_of(stopping: asyncio.Event, changed: asyncio.Event, timeout_s: float) -> None:
    """Wait until ``stopping`` or ``changed`` is set, or ``timeout_s`` passed.

    A stop sets ``changed`` too: the loop sleeps on ``changed`` alone, with no task of its
    own per wait (``remi_ops.watch.stopwake``).
    """
    if stopping.is_set() or changed.is_set():
        return
    with also_on_stop(stopping, changed):
        await set_or_timeout(changed, timeout_s)


async def _scan(pools: Executors | None, watch: TargetWatch) -> object:
    if pools is None:
        return await asyncio.to_thread(watch.scan_test, CheckTrigger.AFTER_RESTART)
    return await pools.scan(watch.name, watch.scan_test, CheckTrigger.AFTER_RESTART)


#: a file that changes all the time (a chatty log) runs its loop at most this often
CHANGE_MIN_GAP_S = 1.0


async def on_change(wake: Wake, stopping: asyncio.Event, step: Callable[[], Awaitable[object]],
                    name: str, on_error: Callable[[str, BaseException], None] | None = None,
                    *, target: str | None = None) -> None:
    """Run ``step`` now, then whenever one of ``wake``'s files changed (at most every
    ``CHANGE_MIN_GAP_S``), else after ``wake.poll_s`` (the spool's requests; a target's
    probe runs under the scheduler: ``target_timers.TargetTimers.probe_due``)."""
    loop = asyncio.get_running_loop()
    while not stopping.is_set():
        began = loop.time()
        wake.event.clear()  # before the step: a change during it runs the step again
        await guarded(name, step, on_error, target)
        await first_of(stopping, wake.event, wake.poll_s)
        if wake.event.is_set():
            await pause(stopping, began + CHANGE_MIN_GAP_S - loop.time())


def checked_ago(watch: TargetWatch) -> float | None:
    """Seconds since ``watch``'s last check (None: none yet): it read the logs and the
    beacon its probe reads."""
    report = watch.last_report
    return None if report is None else (watch.clock.now() - report.checked_at).total_seconds()
