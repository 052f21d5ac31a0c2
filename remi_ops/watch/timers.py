"""Every target's timed wake-ups in one heap, with one loop timer for the earliest.

Each target used to have four coroutines asleep (exit waiter, due actions, probe,
periodic check), each a task with its frames, an ``asyncio.timeout`` and its timer handle,
the event it waited on and the closures that set it: about 16 KB a target
(docs/scale.md, "Memory"). Here a target's timed wake-up is an :class:`Alarm` (a few
slots) and one entry in the heap of :class:`Timers`; the loop has one timer handle, for
the heap's earliest entry, whatever the number of targets.

Alarms due within ``window_s`` of each other fire in the same turn of the loop, so checks
that fall due together are handed to the check threads together
(:mod:`remi_ops.watch.batches`) — at most ``window_s`` early, never late.

An alarm may also say how early it may fire when the timers fire anyway (its
``slack_s``): a periodic check or a safety look, whose time is a cadence rather than a
deadline. It never makes the timers fire sooner; it lets the wake-ups of many targets
gather. That is most of an idle watcher's CPU: one check costs 150–200 µs run right after
another target's, 700–960 µs run alone 25 ms later (caches gone cold in between;
docs/scale.md, "Checks run together"), so 200 targets' checks spread over the minute cost
four times what the same checks cost run together. Once together they stay together: each is
due an interval after it ended, a few ms after the others.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)
#: alarms due this close together fire together (early by at most this)
BATCH_WINDOW_S = 0.005


class Alarm:
    """One timed wake-up of one target: ``action`` is called on the loop at ``when``.

    Setting it again moves it (the older heap entry is skipped when it comes up);
    ``cancel`` clears it. ``slack_s``: how much early it may fire with others (module
    docstring); at most the timers' ``slack_max_s``.
    """

    __slots__ = ("action", "slack_s", "timers", "when")

    def __init__(self, timers: Timers, action: Callable[[], None]) -> None:
        self.timers = timers
        self.action = action
        self.when: float | None = None
        self.slack_s = 0.0

    def at(self, when: float) -> None:
        """Fire at loop time ``when`` (instead of any time set before)."""
        if self.when is not None:
            self.timers.stale += 1  # its older entry
        self.when = when
        self.timers.push(when, self)

    def after(self, seconds: float) -> None:
        self.at(self.timers.loop.time() + max(0.0, seconds))

    def cancel(self) -> None:
        if self.when is not None:
            self.timers.stale += 1
        self.when = None


class Timers:
    """The heap of (when, order, alarm) and the one ``call_at`` handle for its head."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *,
                 window_s: float = BATCH_WINDOW_S, slack_max_s: float = 0.0) -> None:
        self.loop = loop
        self.window_s = window_s
        #: how far ahead a firing looks for alarms whose slack lets them come along
        self.slack_max_s = slack_max_s
        self._heap: list[tuple[float, int, Alarm]] = []
        self._order = itertools.count()  # ties: first set, first fired; alarms never compared
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at: float | None = None
        #: entries of alarms moved or cancelled since they were pushed
        self.stale = 0
        self.closed = False

    def alarm(self, action: Callable[[], None]) -> Alarm:
        return Alarm(self, action)

    def push(self, when: float, alarm: Alarm) -> None:
        if self.closed:
            return
        heapq.heappush(self._heap, (when, next(self._order), alarm))
        self._compact()
        head = self._heap[0][0]
        if self._armed_at is None or head < self._armed_at:
            self._arm(head)

    def pending(self) -> int:
        """How many heap entries are live (an alarm's latest time); stale ones are not."""
        return sum(1 for when, _, alarm in self._heap if alarm.when == when)

    def close(self) -> None:
        """Fire nothing more (the watcher stops)."""
        self.closed = True
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._armed_at = None
        self._heap.clear()
        self.stale = 0

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed_at = when
        self._handle = self.loop.call_at(when, self._fire)

    def _fire(self) -> None:
        """Fire every alarm due now (or within the window, or within its slack), then arm
        for the next."""
        self._handle = self._armed_at = None
        now = self.loop.time()
        limit = now + self.window_s
        reach = max(limit, now + self.slack_max_s)
        due: list[Alarm] = []
        later: list[tuple[float, int, Alarm]] = []
        heap = self._heap
        while heap and heap[0][0] <= reach:
            entry = heapq.heappop(heap)
            when, _, alarm = entry
            if alarm.when != when:  # moved or cancelled since
                self.stale -= 1
            elif when <= limit or when - alarm.slack_s <= now:
                alarm.when = None
                due.append(alarm)
            else:
                later.append(entry)  # within reach, not within its slack: kept
        for entry in later:
            heapq.heappush(heap, entry)
        for alarm in due:
            try:
                alarm.action()
            except Exception:  # one target's error must not stop another's wake-up
                log.exception("a timed wake-up failed")
        self._drop_stale_head()
        if heap and not self.closed and self._handle is None:
            self._arm(heap[0][0])

    def _drop_stale_head(self) -> None:
        heap = self._heap
        while heap and heap[0][2].when != heap[0][0]:
            heapq.heappop(heap)
            self.stale -= 1

    def _compact(self) -> None:
        """Drop the entries of alarms moved since, when they outnumber the live ones (a
        due time moved by every change would otherwise grow the heap without end)."""
        if self.stale < 64 or self.stale * 2 < len(self._heap):
            return
        live = [entry for entry in self._heap if entry[2].when == entry[0]]
        heapq.heapify(live)
        self._heap[:] = live
        self.stale = 0
