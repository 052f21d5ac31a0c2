"""The async driver: deaths as events, the periodic check, liveness probes, due actions.

Blocking work (every ``TargetWatch`` method) runs in worker threads, so the loop that
drives it — the headless ``remi-ops watch`` or Bubabot's — never blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from remi_ops.domain import CheckTrigger
from remi_ops.watch.target import TargetWatch

log = logging.getLogger(__name__)
EXIT_WAIT_SLICE_S = 1.0
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


async def exit_waiter(watch: TargetWatch, stopping: asyncio.Event) -> None:
    """Wait on the supervised process; its death is handled within a second."""
    changed = asyncio.Event()
    loop = asyncio.get_running_loop()

    def wake() -> None:
        loop.call_soon_threadsafe(changed.set)

    watch.on_change = wake
    failures = 0
    while not stopping.is_set():
        ident = watch.supervisor.process
        if ident is None:
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), EXIT_WAIT_SLICE_S)
            continue
        try:
            info = await asyncio.to_thread(watch.manager.wait_exit, ident, EXIT_WAIT_SLICE_S)
            if info is not None:
                await asyncio.to_thread(watch.handle_exit, info)
        except Exception:
            log.exception("waiting for or handling an exit failed", extra={"target": watch.name})
            failures += 1
            await _pause(stopping, exit_retry_delay(failures))
        else:
            failures = 0


def exit_retry_delay(failures: int) -> float:
    """The pause after the ``failures``-th failed handling in a row (bounded exponent)."""
    return min(EXIT_RETRY_MAX_S, EXIT_RETRY_INITIAL_S * 2.0 ** min(max(failures - 1, 0), 16))


async def _pause(stopping: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)


async def periodic(interval_s: float, stopping: asyncio.Event,
                   step: Callable[[], Awaitable[object]], name: str,
                   on_error: Callable[[str, BaseException], None] | None = None, *,
                   target: str | None = None) -> None:
    """Run ``step`` every ``interval_s`` seconds until ``stopping`` is set."""
    while not stopping.is_set():
        await guarded(name, step, on_error, target)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval_s)


async def due_loop(watch: TargetWatch, stopping: asyncio.Event) -> None:
    """Carry out backoff retries and post-restart scan tests when they fall due."""
    while not stopping.is_set():
        wait = watch.seconds_until_due()
        wait = 0.5 if wait is None else min(max(wait, 0.05), 0.5)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), wait)
        if stopping.is_set():
            return
        if watch.seconds_until_due() == 0 or watch.supervisor.maintenance_until is not None:
            await guarded(f"{watch.name}: tick", lambda: asyncio.to_thread(watch.tick),
                          target=watch.name)
        if watch.recheck_due():
            await guarded(f"{watch.name}: check", lambda: asyncio.to_thread(
                watch.check, CheckTrigger.AFTER_RESTART), target=watch.name)
        if watch.scan_due():
            await guarded(f"{watch.name}: scan test",
                          lambda: asyncio.to_thread(watch.scan_test,
                                                    CheckTrigger.AFTER_RESTART),
                          target=watch.name)
