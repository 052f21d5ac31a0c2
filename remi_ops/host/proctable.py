"""One pass over the host's process table, shared by every target's check in a round.

Each check asks two questions of the whole table: "does another copy of my command run?"
(duplicates) and "which processes descend from my Remi?" (its children, for the health
file). Asked by every target in turn, that was one pass over every process per target,
plus the cwd and user of every process with the same argv — with 200 Remis started as
``python main.py``, that is all 200 of them, for each of the 200 targets: the watcher's
idle CPU grew with targets × processes.

:func:`shared_table` takes one pass (pid, ppid, argv, start time) and hands it to every
check that comes due within :data:`MAX_AGE_S`; a check that finds it stale takes the next
while the others wait for that one instead of taking their own. The cwd, user and state
of the processes whose argv matches a target are read once per table (the cwd of each,
then the state and user of those in the workdir asked about) and indexed by workdir, so
each target's question is a dictionary look-up. A process's cwd as the kernel reports it
is already absolute and free of symlinks (``/proc/<pid>/cwd``; ``proc_pidinfo`` on
macOS), so only the target's workdir is resolved, not the cwd of every Remi.

Why a table up to a second old is safe for what it answers, and only for that: it only
*reports* (a duplicate finding, the children listed in the health file). A copy started
after the pass is seen by the next round's table, one check interval later; a process that
ended after it is dropped by the caller's re-check of its pid and start time
(:func:`~remi_ops.host.adoption.find_target_processes` with ``shared=True``), so no
duplicate is reported for a Remi that just died. Everything that adopts, starts, stops or
signals — adoption at watcher start, ``remi-ops`` verbs, the post-start sweep,
``not_target_reason``, ``stop`` — takes a fresh :class:`ProcessTable` of its own or
re-verifies the identity (pid and start time) right before the signal, as before.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from remi_ops.domain import ProcessIdentity
from remi_ops.host.known_processes import KnownProcesses, Seen, known_processes

#: a table this young is reused by every check that asks (one pass per second at most)
MAX_AGE_S = 1.0
#: the oldest table a watcher's checks share (:func:`share_for`)
ROUND_AGE_MAX_S = 15.0
#: a start time read from the boot time may be off by this much (whole seconds in
#: /proc/stat)
CREATE_TIME_MARGIN_S = 1.0

#: a command as argv matching sees it: the interpreter's name without path or version,
#: and the rest of the argv exactly
ArgvKey = tuple[str, tuple[str, ...]]


def argv_key(argv: Sequence[str]) -> ArgvKey:
    """What two argvs must share to match: ``python3 main.py`` and
    ``/srv/remi/.venv/bin/python main.py`` share it, ``node main.py`` does not."""
    return program(argv[0]), tuple(argv[1:])


def program(argv0: str) -> str:
    """The program's name without path, case or version digits (``python3.11`` → ``python``)."""
    return Path(argv0).name.lower().rstrip("0123456789.") or argv0


def resolved(path: Path) -> Path:
    """``path`` with ``~`` and symlinks resolved (as given when that fails)."""
    try:
        return path.expanduser().resolve()
    except OSError:
        return path


#: a workdir's real path kept by :func:`resolved_workdir` is looked up again after this
#: long (what a stat cannot tell: its directory renamed, a symlink re-pointed at it)
REAL_PATH_MAX_AGE_S = 60.0
#: workdir as configured → (its real path, that directory's device and inode, when read)
_REAL_PATHS: dict[Path, tuple[Path, int, int, float]] = {}


def resolved_workdir(path: Path) -> Path:
    """:func:`resolved` for a check's duplicate report: kept per workdir while a ``stat``
    of it (one system call, through every symlink) still lands on the same directory.

    ``resolve`` costs an ``lstat`` per component and a ``readlink`` per symlink, every
    check of every target, for a path that almost never changes. A symlink on the way
    re-pointed elsewhere lands the ``stat`` on another inode, so the path is resolved
    again; the one change a stat cannot see (the same directory now under another name)
    is caught within :data:`REAL_PATH_MAX_AGE_S`. Only for what is reported: adoption,
    starts and stops resolve afresh.
    """
    try:
        now_at = path.expanduser().stat()
    except OSError:
        return resolved(path)
    kept = _REAL_PATHS.get(path)
    now = time.monotonic()
    if (kept is not None and (kept[1], kept[2]) == (now_at.st_dev, now_at.st_ino)
            and now - kept[3] < REAL_PATH_MAX_AGE_S):
        return kept[0]
    real = resolved(path)
    try:
        at_real = real.stat()
    except OSError:
        return real
    _REAL_PATHS[path] = (real, at_real.st_dev, at_real.st_ino, now)
    return real


@dataclass(frozen=True)
class Match:
    """A live (not zombie) process whose argv matches a command: who it is, as whom it runs."""

    ident: ProcessIdentity
    uid: int


class ProcessTable:
    """One pass over the processes of the host (the watcher itself left out of matches).

    Thread-safe: the per-command index is built once, under a lock, by the first check
    that asks for that command.
    """

    def __init__(self, taken_at: float) -> None:
        #: ``time.monotonic()`` and ``time.time()`` when the pass began
        self.taken_at = taken_at
        self.taken_wall = time.time()
        #: pid → parent pid, for every process seen
        self.parents: dict[int, int] = {}
        self._by_argv: dict[ArgvKey, list[Seen]] = {}
        self._places: dict[ArgvKey, dict[Path, list[tuple[Seen, str]]]] = {}
        self._found: dict[tuple[ArgvKey, Path], list[Match]] = {}
        self._children: dict[int, list[int]] | None = None
        self._lock = threading.Lock()

    @classmethod
    def take(cls) -> ProcessTable:
        """A fresh pass: pid, ppid, argv and start time of every process (cheap reads;
        cwd, user and state come later, for the processes a target's command matches)."""
        table = cls(time.monotonic())
        rows = []
        for proc in psutil.process_iter(["pid", "ppid", "cmdline", "create_time"],
                                         ad_value=None):
            info: dict[str, Any] = proc.info
            rows.append(Seen(info["pid"], info["ppid"] or 0, info["create_time"] or 0.0,
                             tuple(info["cmdline"] or ()), handle=proc))
        table._index(rows)
        return table

    @classmethod
    def take_known(cls, known: KnownProcesses) -> ProcessTable:
        """A pass that reads the argv only of processes ``known`` has not seen (for the
        shared, report-only table: see :mod:`~remi_ops.host.known_processes`)."""
        table = cls(time.monotonic())
        table._index(known.scan())
        return table

    def _index(self, rows: Iterable[Seen]) -> None:
        own = os.getpid()
        for row in rows:
            self.parents[row.pid] = row.ppid
            if row.pid == own or not row.cmdline or not row.created:
                continue
            self._by_argv.setdefault(argv_key(row.cmdline), []).append(row)

    def matches(self, command: Sequence[str], workdir: Path) -> list[Match]:
        """Live processes running ``command`` in ``workdir`` (resolved), as the table saw them."""
        if not command:
            return []
        key = argv_key(command)
        with self._lock:
            found = self._found.get((key, workdir))
            if found is None:
                places = self._places.get(key)
                if places is None:
                    places = self._places[key] = _by_cwd(self._by_argv.get(key, []))
                found = self._found[key, workdir] = _live(places.get(workdir, []))
        return found

    def descendants(self, pid: int) -> tuple[int, ...]:
        """Every process below ``pid`` in the table (children, grandchildren …), sorted."""
        with self._lock:
            if self._children is None:
                children: dict[int, list[int]] = {}
                for child, parent in self.parents.items():
                    children.setdefault(parent, []).append(child)
                self._children = children
            below = self._children
        found: set[int] = set()
        todo = list(below.get(pid, ()))
        while todo:
            child = todo.pop()
            if child not in found and child != pid:
                found.add(child)
                todo.extend(below.get(child, ()))
        return tuple(sorted(found))


def _by_cwd(rows: list[Seen]) -> dict[Path, list[tuple[Seen, str]]]:
    """The rows by their process's cwd (one readlink each); vanished ones left out."""
    places: dict[Path, list[tuple[Seen, str]]] = {}
    for row in rows:
        try:
            cwd = row.proc().cwd()
        except psutil.Error:  # gone, a zombie, or not ours to read
            continue
        if cwd:
            places.setdefault(Path(cwd), []).append((row, cwd))
    return places


def _live(rows: list[tuple[Seen, str]]) -> list[Match]:
    """The rows' processes that still run (zombies left out), with their user.

    A row of a :class:`~remi_ops.host.known_processes.KnownProcesses` pass was running
    then, and its user, once read, is kept with its argv: the shared table reports only,
    and what it names is re-checked before it is reported (``is_alive``).
    """
    found: list[Match] = []
    for row, cwd in rows:
        if row.running and row.uid is not None:
            found.append(Match(ProcessIdentity(row.pid, row.created, row.cmdline, cwd),
                               row.uid))
            continue
        try:
            proc = row.proc()
            with proc.oneshot():
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue
                uid = proc.uids().real
        except psutil.Error:
            continue
        if row.running:
            row.uid = uid
        found.append(Match(ProcessIdentity(row.pid, row.created, row.cmdline, cwd), uid))
    return found


class _Shared:
    """The table the checks share, the processes its passes saw, how old the table may
    be, and the lock the one that renews it holds."""

    def __init__(self) -> None:
        self.table: ProcessTable | None = None
        self.known = known_processes()
        self.max_age_s = MAX_AGE_S
        self.lock = threading.Lock()


_SHARED = _Shared()


def share_for(check_interval_s: float) -> None:
    """Let the checks share one table for a quarter of their interval (between
    :data:`MAX_AGE_S` and :data:`ROUND_AGE_MAX_S`): about four passes per interval
    whatever the number of targets, however their checks are spread over it.

    Checks are spread over the interval (their start times, their jitter), so a table
    a second old served about one check in a watcher of 50: a pass over every process
    per check. What a table this old answers is still only reported: a copy started
    since it was taken is reported by a later check (within a quarter of an interval
    more), one that ended is re-checked and left out, and the children of a Remi that
    started after it was taken are read from a new pass (:func:`shared_table`'s
    ``since``).
    """
    _SHARED.max_age_s = max(MAX_AGE_S, min(ROUND_AGE_MAX_S, check_interval_s / 4))


def shared_table(max_age_s: float | None = None, *, since: float = 0.0) -> ProcessTable:
    """The table of this round: the last one if younger than ``max_age_s`` (by default
    what :func:`share_for` set) and taken after ``since`` (epoch seconds, with a second
    of margin for start times read from the boot time), else a new pass.

    Checks on several threads that find it stale at once wait for one pass, not one each.
    """
    max_age_s = _SHARED.max_age_s if max_age_s is None else max_age_s
    with _SHARED.lock:
        table = _SHARED.table
        if (table is None or time.monotonic() - table.taken_at > max_age_s
                or table.taken_wall < since + CREATE_TIME_MARGIN_S):
            known = _SHARED.known
            table = _SHARED.table = (ProcessTable.take() if known is None
                                     else ProcessTable.take_known(known))
        return table
