"""A sleeping loop woken by its own event or by the watcher's stop, without a task per wait.

Every target has loops that sleep until something changed or the watcher stops (the due
loop, the probe; ``remi_ops.watch.loops.first_of``). Waiting on both events at once with
``asyncio.wait`` takes one task per event for every wait, about 2.6 KB per sleeping loop,
two loops per target (docs/scale.md, "Memory"). Here the stop is awaited once, by one task
per ``stopping`` event shared by every loop; each sleeping loop hangs a callback on that
task which sets its own event, and sleeps on its own event alone.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

#: ``stopping`` → the one task awaiting it (done once it is set); weak on the event, so a
#: stopped watcher's entry goes with it
_STOPS: weakref.WeakKeyDictionary[asyncio.Event, asyncio.Future[bool]] = \
    weakref.WeakKeyDictionary()


def _stopped(stopping: asyncio.Event) -> asyncio.Future[bool]:
    """The shared task that ends when ``stopping`` is set (a new one if the last ended while
    ``stopping`` is clear again: it was cancelled, or the event was reused)."""
    loop = asyncio.get_running_loop()
    stopped = _STOPS.get(stopping)
    if stopped is None or stopped.get_loop() is not loop \
            or (stopped.done() and not stopping.is_set()):
        stopped = _STOPS[stopping] = asyncio.ensure_future(stopping.wait())
    return stopped


@contextmanager
def also_on_stop(stopping: asyncio.Event, event: asyncio.Event) -> Iterator[None]:
    """While inside, ``stopping`` being set also sets ``event``: a loop that sleeps on
    ``event`` alone wakes for either."""
    stopped = _stopped(stopping)

    def relay(_: object) -> None:
        event.set()

    stopped.add_done_callback(relay)
    try:
        yield
    finally:
        stopped.remove_done_callback(relay)
