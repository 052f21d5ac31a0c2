"""Whether a log (or its rotated ``.1`` copy) can have changed since a check last looked,
without a ``stat``: no file event came for it.

A check used to ``stat`` each log, and its ``.1`` copy while the log was empty, to learn
that nothing had been appended (twice: ``LogIntake.read`` asks ``unchanged`` first). Where
the folder is watched by inotify (``watch.fileevents``), every write, truncation,
rename, creation or removal of those names is an event; so the tailer
(``logs.tail.Tailer.gate``) takes a :class:`Mark` before it looks, and the next check
skips the look when :meth:`FileGate.quiet_since` says no event came since.

"No event came" is decided in this order, from a check thread while the event loop reads
the events: none waiting in the kernel's queue (a ``select`` of the inotify descriptor
with no timeout), then none being read at that moment (``EventCounts.busy``, set around
the loop's read), then the counts of the gated names as they were at the mark. An event
that came before the question is therefore in one of the three places; one that comes
after it is a write after the check looked, as it always could be.

The tailer looks anyway (one ``stat``, as before) where events cannot be relied on: no
inotify (macOS, a full watch table: the gate is never active), a folder whose watch went
away (a folder removed: inactive from then on), after a queue overflow (the era moves),
a file followed outside its folder (the tailer reads a renamed file: it never asks the
gate then), and at least every :data:`STAT_SAFETY_S` for what inotify does not report
(a write through another path to the same file, such as a hard link in an unwatched
folder, or a file changed by ``mmap``).
"""

from __future__ import annotations

import select
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from remi_ops.watch.fileevents import FileEvents
    from remi_ops.watch.intake import LogIntake
    from remi_ops.watch.observe import Observer

#: a log is looked at (``stat``) at least this often even when no event came
STAT_SAFETY_S = 300.0
#: one ``select`` that found no event waiting answers the gates asked this soon after it
#: (a check asks four: its two logs, the beacon, ``.git``)
SETTLED_REUSE_S = 0.005


@dataclass(frozen=True, slots=True)
class Mark:
    """The events counted for a gate's files when a look began."""

    era: int
    seen: tuple[int, ...]
    at: float


class EventCounts:
    """Events seen per gated path, kept by the loop's reader (``FileEvents``)."""

    def __init__(self) -> None:
        self.counts: dict[Path, int] = {}
        #: moves when events may have been lost (a queue overflow, a watch gone, closing)
        self.era = 0
        #: True while the loop reads and counts a batch of events
        self.busy = False
        #: the inotify descriptor while events are read (None: no events to rely on)
        self.fd: int | None = None
        #: when a ``select`` (begun after it) last found nothing waiting nor being read
        self._settled_at = float("-inf")

    def settled_since(self, at: float) -> bool:
        """No event waits in the kernel's queue nor is being read, as of a moment after
        ``at`` (a mark's time): the ``select`` of a gate asked within
        :data:`SETTLED_REUSE_S` before answers for this one when it came after ``at`` —
        an event since then is one that came after this look, as it always could."""
        now = time.monotonic()
        settled = self._settled_at
        if at <= settled and now - settled < SETTLED_REUSE_S:
            return True
        if self.pending() or self.busy:  # in this order (see the module's docstring)
            return False
        self._settled_at = now
        return True

    def track(self, paths: Iterable[Path]) -> None:
        for path in paths:
            self.counts.setdefault(path, 0)

    def saw(self, changed: Iterable[Path]) -> None:
        counts = self.counts
        for path in changed:
            if path in counts:
                counts[path] += 1

    def lost(self) -> None:
        self.era += 1

    def pending(self) -> bool:
        """Events wait in the kernel's queue (or the descriptor is gone: assume so)."""
        fd = self.fd
        if fd is None:
            return True
        try:
            ready, _, _ = select.select([fd], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(ready)


class FileGate:
    """No event for ``paths`` since a mark; active while all their folders are watched."""

    def __init__(self, counts: EventCounts, paths: Iterable[Path],
                 safety_s: float = STAT_SAFETY_S) -> None:
        self._counts = counts
        self.paths = tuple(paths)
        self.folders = frozenset(p.parent for p in self.paths)
        self.safety_s = safety_s
        #: set by ``FileEvents`` while every folder of ``paths`` is watched
        self.active = False
        counts.track(self.paths)

    def mark(self) -> Mark | None:
        """Taken just before a look at the files; None while events cannot be relied on."""
        if not self.active:
            return None
        counts = self._counts
        return Mark(counts.era, tuple(counts.counts[p] for p in self.paths), time.monotonic())

    def quiet_since(self, mark: Mark | None) -> bool:
        """True when no event for the files came since ``mark`` (and it is not older than
        ``safety_s``): they are as the look after the mark found them."""
        if mark is None or not self.active or time.monotonic() - mark.at >= self.safety_s:
            return False
        counts = self._counts
        if not counts.settled_since(mark.at):
            return False
        return mark.era == counts.era and mark.seen == tuple(
            counts.counts[p] for p in self.paths)


def gate_logs(files: FileEvents, intake: LogIntake) -> None:
    """Give each of a target's tailers a gate on its log and the log's ``.1`` copy."""
    for tailer in intake.tailers.values():
        tailer.gate = files.gate([tailer.path, tailer.path.with_name(tailer.path.name + ".1")])


def gate_observer(files: FileEvents, observer: Observer) -> None:
    """Gate a target's beacon read and its ``.git`` look (``watch.gatedlook``)."""
    observer.beacon_look.gate = files.gate([observer.target.beacon_file])
    observer.git_look.gate = files.gate([observer.target.workdir / ".git"])
