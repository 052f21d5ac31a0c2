"""The alert commit, when there is something to commit: not a 1-s poll.

``AlertHub.commit`` hands queued inputs to the engine, flushes it and persists the result
(three hops to a worker thread and a SQLite transaction). It used to run every second
whatever happened. Now it runs when an input is queued (``AlertHub.on_input``: a check's
conditions, an event, the journal) and when the engine next has a timer due (group wait,
repeat, resolution: ``AlertEngine.next_due``) — at most every ``COMMIT_GAP_S``, so a
burst is still committed as one batch, as before — and otherwise every
``SAFETY_POLL_S`` (an engine change made without an input, such as a silence expiring
on its own, is seen then at the latest). Between two commits only the first input wakes
the loop (:class:`Nudge`).
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
    nudge = Nudge(loop)
    hub.on_input = nudge
    while not stopping.is_set():
        began = loop.time()
        nudge.rearm()  # before the commit: an input during it commits again
        await guarded("alert commit", hub.commit, on_error)
        await first_of(stopping, nudge.wake, await _until_due(hub))
        await pause(stopping, began + COMMIT_GAP_S - loop.time())


class Nudge:
    """Wakes the commit loop from any thread, once per commit.

    Checks hand their conditions to the hub from their threads (at 200 targets and a check
    every 10 s, 20 a second), and each used to wake the event loop (a write to its
    self-pipe, a turn of the loop) although the commit runs at most every
    ``COMMIT_GAP_S``. The first input after a commit wakes it; the rest find it woken.
    No input is left behind: the hub queues an input before it nudges, and the loop
    re-arms before the commit takes the queue, so an input whose nudge found the loop
    woken already is taken by the commit that nudge (or an earlier one) started.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.wake = asyncio.Event()
        self._sent = False  # a wake-up is on its way or done since the last re-arm

    def __call__(self) -> None:
        if self._sent:
            return
        self._sent = True
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
            self._loop.call_soon_threadsafe(self.wake.set)

    def rearm(self) -> None:
        """On the loop, before a commit takes the queued inputs."""
        self._sent = False
        self.wake.clear()


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
