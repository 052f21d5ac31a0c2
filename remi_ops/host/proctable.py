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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from remi_ops.domain import ProcessIdentity

#: a table this young is reused by every check that asks (one pass per second at most)
MAX_AGE_S = 1.0

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


@dataclass(frozen=True)
class Match:
    """A live (not zombie) process whose argv matches a command: who it is, as whom it runs."""

    ident: ProcessIdentity
    uid: int


@dataclass(frozen=True)
class _Row:
    proc: psutil.Process
    cmdline: tuple[str, ...]
    created: float


class ProcessTable:
    """One pass over the processes of the host (the watcher itself left out of matches).

    Thread-safe: the per-command index is built once, under a lock, by the first check
    that asks for that command.
    """

    def __init__(self, taken_at: float) -> None:
        #: ``time.monotonic()`` when the pass began
        self.taken_at = taken_at
        #: pid → parent pid, for every process seen
        self.parents: dict[int, int] = {}
        self._by_argv: dict[ArgvKey, list[_Row]] = {}
        self._places: dict[ArgvKey, dict[Path, list[tuple[_Row, str]]]] = {}
        self._found: dict[tuple[ArgvKey, Path], list[Match]] = {}
        self._children: dict[int, list[int]] | None = None
        self._lock = threading.Lock()

    @classmethod
    def take(cls) -> ProcessTable:
        """A fresh pass: pid, ppid, argv and start time of every process (cheap reads;
        cwd, user and state come later, for the processes a target's command matches)."""
        table = cls(time.monotonic())
        own = os.getpid()
        for proc in psutil.process_iter(["pid", "ppid", "cmdline", "create_time"],
                                         ad_value=None):
            info: dict[str, Any] = proc.info
            table.parents[info["pid"]] = info["ppid"] or 0
            cmdline = info["cmdline"]
            if info["pid"] == own or not cmdline or info["create_time"] is None:
                continue
            table._by_argv.setdefault(argv_key(cmdline), []).append(
                _Row(proc, tuple(cmdline), info["create_time"]))
        return table

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


def _by_cwd(rows: list[_Row]) -> dict[Path, list[tuple[_Row, str]]]:
    """The rows by their process's cwd (one readlink each); vanished ones left out."""
    places: dict[Path, list[tuple[_Row, str]]] = {}
    for row in rows:
        try:
            cwd = row.proc.cwd()
        except psutil.Error:  # gone, a zombie, or not ours to read
            continue
        if cwd:
            places.setdefault(Path(cwd), []).append((row, cwd))
    return places


def _live(rows: list[tuple[_Row, str]]) -> list[Match]:
    """The rows' processes that still run (zombies left out), with their user."""
    found: list[Match] = []
    for row, cwd in rows:
        try:
            with row.proc.oneshot():
                if row.proc.status() == psutil.STATUS_ZOMBIE:
                    continue
                uid = row.proc.uids().real
        except psutil.Error:
            continue
        found.append(Match(ProcessIdentity(row.proc.pid, row.created, row.cmdline, cwd), uid))
    return found


class _Shared:
    """The table the checks share, and the lock the one that renews it holds."""

    def __init__(self) -> None:
        self.table: ProcessTable | None = None
        self.lock = threading.Lock()


_SHARED = _Shared()


def shared_table(max_age_s: float = MAX_AGE_S) -> ProcessTable:
    """The table of this round: the last one if younger than ``max_age_s``, else a new pass.

    Checks on several threads that find it stale at once wait for one pass, not one each.
    """
    with _SHARED.lock:
        table = _SHARED.table
        if table is None or time.monotonic() - table.taken_at > max_age_s:
            table = _SHARED.table = ProcessTable.take()
        return table
