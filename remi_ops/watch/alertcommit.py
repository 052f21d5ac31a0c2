"""The alert commit, when there is something to commit: not a 1-s poll.

``AlertHub.commit`` hands queued inputs to the engine, flushes it and persists the result
(three hops to a worker thread and a SQLite transaction). It used to run every second
whatever happened. Now it runs when an input is queued (``AlertHub.on_input``: a check's
conditions, an event, the journal) and when the engine next has a timer due (group wait,
repeat, resolution: ``AlertEngine.next_due``) — at most every ``COMMIT_GAP_S``, so a
burst is still committed as one batch, as before — and otherwise every
``SAFETY_POLL_S`` (an engine change made without an input, such as a silence expiring
on its own, is seen then at the latest).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from remi_ops.alerts.hub import AlertHub
from remi_ops.watch.loops import first_of, guarded, pause

#: at most one commit per this long: inputs arriving together are committed together
COMMIT_GAP_S = 1.0
#: the commit runs at least this often even when nothing said it should
SAFETY_POLL_S = 30.0


async def commit_when_due(hub: AlertHub, stopping: asyncio.Event,
                          on_error: Callable[[str, BaseException], None] | None = None
                          ) -> None:
    """Commit now, then whenever an input arrives or an engine timer falls due."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def nudge() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
            loop.call_soon_threadsafe(wake.set)

    hub.on_input = nudge
    while not stopping.is_set():
        began = loop.time()
        wake.clear()  # before the commit: an input during it commits again
        await guarded("alert commit", hub.commit, on_error)
        await first_of(stopping, wake, await _until_due(hub))
        await pause(stopping, began + COMMIT_GAP_S - loop.time())


async def _until_due(hub: AlertHub) -> float:
    """Seconds until the engine's next timer (``SAFETY_POLL_S`` at most)."""
    now = hub.clock.now()
    try:  # the engine's lock may be held by a commit elsewhere: not on the loop
        due = await asyncio.to_thread(hub.engine.next_due, now)
    except Exception:  # the commit's own failure is reported; look again soon
        return COMMIT_GAP_S
    if due is None:
        return SAFETY_POLL_S
    return min(max((due - now).total_seconds(), 0.0), SAFETY_POLL_S)
