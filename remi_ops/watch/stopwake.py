"""A sleeping loop woken by its own event or by the watcher's stop, without a task per wait.

Every target has loops that sleep until something changed or the watcher stops (the due
loop, the probe; ``remi_ops.watch.loops.first_of``). Waiting on both events at once with
``asyncio.wait`` takes one task per event for every wait, about 3.8 KB per sleeping loop,
two loops per target (docs/scale.md, "Memory"). Here the stop is awaited once, by one task
per ``stopping`` event shared by every loop; each sleeping loop hangs a callback on that
task which sets its own event, and sleeps on its own event alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(eq=False)
class _Shared:
    """The one task awaiting a ``stopping`` event, and how many loops sleep on it now."""

    task: asyncio.Future[bool]
    sleepers: int = 0


#: ``stopping`` → its shared task, while some loop sleeps on it: the last loop to wake
#: drops the entry (and cancels the task if the stop has not come), so nothing outlives
#: the sleepers — not the task, nor the event loop it holds
_STOPS: dict[asyncio.Event, _Shared] = {}


def _shared(stopping: asyncio.Event) -> _Shared:
    """The shared task that ends when ``stopping`` is set (a new one if the last ended while
    ``stopping`` is clear again, or belongs to another event loop)."""
    loop = asyncio.get_running_loop()
    shared = _STOPS.get(stopping)
    if shared is None or shared.task.get_loop() is not loop \
            or (shared.task.done() and not stopping.is_set()):
        shared = _STOPS[stopping] = _Shared(asyncio.ensure_future(stopping.wait()))
    return shared


@contextlib.contextmanager
def also_on_stop(stopping: asyncio.Event, event: asyncio.Event) -> Iterator[None]:
    """While inside, ``stopping`` being set also sets ``event``: a loop that sleeps on
    ``event`` alone wakes for either."""
    shared = _shared(stopping)

    def relay(_: object) -> None:
        event.set()

    shared.task.add_done_callback(relay)
    shared.sleepers += 1
    try:
        yield
    finally:
        shared.task.remove_done_callback(relay)
        shared.sleepers -= 1
        if shared.sleepers == 0:
            if _STOPS.get(stopping) is shared:
                del _STOPS[stopping]
            with contextlib.suppress(RuntimeError):  # its event loop closed meanwhile
                shared.task.cancel()  # nothing once the stop came: the task is done
