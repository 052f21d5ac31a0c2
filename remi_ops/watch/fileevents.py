"""File changes as events for the watcher's loops: a quiet idle.

One inotify descriptor (:mod:`remi_ops.host.inotify`, on the loop, no thread) watches the
folders of every target's logs and beacon, and the spool folder; a change wakes only the
loop that asked for that file (:class:`Wake`). So an idle watcher of sleeping Remis does
nothing at all between checks, and a busy Remi's probe runs when its files change.

Where no event can come the loop polls as it always did, every ``POLL_S``: without
inotify (macOS, a sandbox that refuses it), for a folder that cannot be watched (missing
at start, over the per-user watch limit) or that went away. Where events do come, the
loop still looks every ``SAFETY_POLL_S``, because an event can be missed: a log Remi
writes outside the watched folders (stdout renamed elsewhere and followed there), a
folder removed and made again (its watch is gone; the wake then polls), a kernel queue
overflow (every loop is woken then, but the safety poll does not rely on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from remi_ops.host.inotify import OVERFLOW, Inotify, Names, open_inotify
from remi_ops.watch.filegate import EventCounts, FileGate

log = logging.getLogger(__name__)

#: how often a loop looks when no event can tell it (the cadence before events)
POLL_S = 2.0
#: how often a loop looks even when events come, for the change an event missed
SAFETY_POLL_S = 30.0
#: events read at most this often: the ones that come meanwhile wait in the kernel's
#: queue and are read together (see ``FileEvents._readable``)
READ_GAP_S = 0.05


class Wake:
    """What one loop waits on: set when one of its files (or a matching name in its
    folder) changed."""

    def __init__(self, files: Iterable[Path] = (), folder: Path | None = None,
                 suffix: str = "") -> None:
        self.files = frozenset(files)
        self.folder = folder
        self.suffix = suffix
        self.event = asyncio.Event()
        #: True while every folder it needs is watched: then it polls only for safety
        self.watched = False

    @property
    def folders(self) -> set[Path]:
        return {p.parent for p in self.files} | ({self.folder} if self.folder else set())

    @property
    def poll_s(self) -> float:
        """How long its loop may sleep without an event."""
        return SAFETY_POLL_S if self.watched else POLL_S

    def matches(self, changed: set[Path]) -> bool:
        if OVERFLOW in changed or not self.files.isdisjoint(changed):
            return True
        return self.folder is not None and any(
            p.parent == self.folder and p.name.endswith(self.suffix) for p in changed)


class FileEvents:
    """The one folder watcher of a ``Watcher``: wakes are asked for, then ``start``."""

    def __init__(self) -> None:
        self.wakes: list[Wake] = []
        #: the wakes a changed path concerns, by the path itself and by its folder: an
        #: event costs a look-up, not a pass over every target's wake (a check writes its
        #: target's health file, so with 200 targets that pass was 200 × 200 per round)
        self._by_file: dict[Path, list[Wake]] = {}
        self._by_folder: dict[Path, list[Wake]] = {}
        self._inotify: Inotify | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._read_at = float("-inf")  # loop time of the last read
        self._resume: asyncio.TimerHandle | None = None  # the read put off, if one is
        #: the gates of the logs checks read (``watch.filegate``) and their events
        self.counts = EventCounts()
        self.gates: list[FileGate] = []

    def for_files(self, paths: Iterable[Path]) -> Wake:
        """A wake set when any of ``paths`` is written, replaced, created or removed."""
        wake = Wake(files=paths)
        for path in wake.files:
            self._by_file.setdefault(path, []).append(wake)
        self.wakes.append(wake)
        return wake

    def for_folder(self, folder: Path, suffix: str = "") -> Wake:
        """A wake set when a file named ``*suffix`` changes in ``folder``."""
        wake = Wake(folder=folder, suffix=suffix)
        self._by_folder.setdefault(folder, []).append(wake)
        self.wakes.append(wake)
        return wake

    def gate(self, paths: Iterable[Path]) -> FileGate:
        """A gate that says when no event came for ``paths`` (a log and its ``.1``)."""
        gate = FileGate(self.counts, paths)
        self.gates.append(gate)
        return gate

    def start(self) -> None:
        """Watch every folder the wakes and gates need (call on the loop, after asking
        for them); in each, only the names they asked for are reported."""
        if self._inotify is not None:
            return
        inotify = open_inotify()
        if inotify is None:
            return
        wanted = self._wanted_names()
        watched = {folder: inotify.watch_folder(folder, names)
                   for folder, names in wanted.items()}
        for wake in self.wakes:
            wake.watched = all(watched[f] for f in wake.folders)
        self.counts.fd = inotify.fd
        for gate in self.gates:
            gate.active = all(watched[f] for f in gate.folders)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(inotify.fd, self._readable)
        self._inotify = inotify

    def _wanted_names(self) -> dict[Path, Names | None]:
        """Each folder to watch → the names whose events matter in it (None: all)."""
        exact: dict[Path, set[bytes]] = {}
        suffixes: dict[Path, set[bytes]] = {}
        everything: set[Path] = set()
        for path in [*(p for w in self.wakes for p in w.files),
                     *(p for g in self.gates for p in g.paths)]:
            exact.setdefault(path.parent, set()).add(os.fsencode(path.name))
        for wake in self.wakes:
            if wake.folder is None:
                continue
            exact.setdefault(wake.folder, set())
            if wake.suffix:
                suffixes.setdefault(wake.folder, set()).add(os.fsencode(wake.suffix))
            else:
                everything.add(wake.folder)
        return {folder: None if folder in everything else
                Names(frozenset(names), tuple(sorted(suffixes.get(folder, ()))))
                for folder, names in exact.items()}

    def _readable(self) -> None:
        """Read the events, unless the last read was less than ``READ_GAP_S`` ago: then
        the read waits for the gap's end, and what comes meanwhile is read with it.

        Every check writes its target's health file in a watched folder (a rewrite is
        seven events) and the checks of a round run one after the other, so reading as
        events came was 700 wake-ups of the loop in a minute of 200 idle targets, each
        taking the GIL from the check thread. Nothing reads sooner for it: a probe waits
        ``CHANGE_MIN_GAP_S`` after a change, and a gate asked while events wait in the
        queue looks at its file (``watch.filegate``).
        """
        inotify, loop = self._inotify, self._loop
        if inotify is None or loop is None:
            return
        if loop.time() - self._read_at < READ_GAP_S:
            loop.remove_reader(inotify.fd)
            self._resume = loop.call_at(self._read_at + READ_GAP_S, self._resumed)
            return
        self._read(inotify, loop)

    def _resumed(self) -> None:
        """The gap is over: read what came meanwhile, and wait for events again."""
        self._resume = None
        inotify, loop = self._inotify, self._loop
        if inotify is None or loop is None:
            return
        loop.add_reader(inotify.fd, self._readable)
        self._read(inotify, loop)

    def _read(self, inotify: Inotify, loop: asyncio.AbstractEventLoop) -> None:
        self._read_at = loop.time()
        self.counts.busy = True  # before the read: a gate asked meanwhile looks
        try:
            try:
                changed = inotify.read()
            except OSError as exc:
                log.warning("file events failed (%s); polling every %.0f s", exc, POLL_S)
                self.close()
                return
            self._count(changed, inotify.take_dropped())
        finally:
            self.counts.busy = False
        for wake in self._concerned(changed):
            wake.event.set()

    def _count(self, changed: set[Path], dropped: set[Path]) -> None:
        """Tell the gates what changed, and which folders no event can come from now."""
        if dropped:  # rare: a folder went away, its watch with it; its wakes poll now
            for wake in self.wakes:
                if wake.watched and not wake.folders.isdisjoint(dropped):
                    wake.watched = False
                    wake.event.set()
            for gate in self.gates:
                if not gate.folders.isdisjoint(dropped):
                    gate.active = False
        if dropped or OVERFLOW in changed:
            self.counts.lost()
        self.counts.saw(changed)

    def _concerned(self, changed: set[Path]) -> Iterable[Wake]:
        """The wakes one of ``changed`` matters to (all of them after an overflow)."""
        if OVERFLOW in changed:
            return self.wakes
        woken: dict[int, Wake] = {}
        for path in changed:
            woken.update((id(w), w) for w in self._by_file.get(path, ()))
            woken.update((id(w), w) for w in self._by_folder.get(path.parent, ())
                         if w.matches({path}))
        return woken.values()

    def close(self) -> None:
        """Stop watching; every wake polls again (and is woken to say so)."""
        inotify, self._inotify = self._inotify, None
        if inotify is None:
            return
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(Exception):
                self._loop.remove_reader(inotify.fd)
        self.counts.fd = None
        self.counts.lost()
        for gate in self.gates:
            gate.active = False
        inotify.close()
        for wake in self.wakes:
            wake.watched = False
            wake.event.set()

    async def run(self, stopping: asyncio.Event) -> None:
        """Watch from now until ``stopping`` is set (or the task is cancelled)."""
        self.start()
        try:
            await stopping.wait()
        finally:
            self.close()
