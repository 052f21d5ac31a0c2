"""Bubabot's own event-loop lag: the watcher must not have the illness it watches for.

Remi's incident was a blocked event loop behind a live process. Bubabot runs on the same
kind of loop, so it measures itself the same way the beacon measures Remi: a task sleeps
for a fixed interval and records how late it woke up. ``/remi-health`` shows the reading
(the real service exposes it as ``OpsService.loop_lag()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

#: short enough to catch a 50-ms stall; 20 wake-ups a second cost next to nothing
DEFAULT_INTERVAL_S = 0.05


class LoopLagMonitor:
    """Measures how late ``asyncio.sleep(interval)`` wakes up; keeps the last and the max."""

    def __init__(self, interval_s: float = DEFAULT_INTERVAL_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = interval_s
        self._monotonic = monotonic
        self._task: asyncio.Task[None] | None = None
        self.last_s = 0.0
        self.max_s = 0.0
        self.samples = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start measuring on the running loop (idempotent)."""
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="bubabot-loop-lag")

    async def stop(self) -> None:
        """Stop measuring and wait for the task to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def reading(self) -> tuple[float, float]:
        """(last, max since start), seconds — the shape of ``OpsService.loop_lag()``."""
        return self.last_s, self.max_s

    def record(self, lag_s: float) -> None:
        """Take one measurement (the task calls this; tests may too)."""
        self.last_s = max(0.0, lag_s)
        self.max_s = max(self.max_s, self.last_s)
        self.samples += 1

    async def _run(self) -> None:
        while True:
            started = self._monotonic()
            await asyncio.sleep(self.interval_s)
            self.record(self._monotonic() - started - self.interval_s)
