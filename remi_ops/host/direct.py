"""Remi as our own child (or adopted): spawn, pidfile hint, whole-tree stop, sweep.

The manager for ``manager = "process"``: no service manager owns Remi, so the watcher
starts it itself and knows it from then on by pid + create time + spawn marker (in
memory, and through the pidfile for the next watcher), whatever title or argv the bot
gives itself. Processes found by argv only come after it: duplicates to report, never
adopted in its place. Every process still carrying the spawn's marker after a stop is
an escaped child and is swept, so helpers do not pile up across restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from remi_ops.clock import Clock, SystemClock
from remi_ops.config import TargetSettings
from remi_ops.domain import ProcessIdentity
from remi_ops.exceptions import ProcessError
from remi_ops.host.adoption import find_target_processes, not_target_reason
from remi_ops.host.base import BaseManager
from remi_ops.host.identity import identify, is_alive, same_identity
from remi_ops.host.lifecycle import spawn
from remi_ops.host.pidfile import (
    clear_pidfile,
    pidfile_path,
    read_pidfile,
    recorded_spawn_id,
    write_pidfile,
)
from remi_ops.host.spawnmark import carriers, spawn_id_of
from remi_ops.host.stopping import StopResult, protected_pids, stop

log = logging.getLogger(__name__)


class DirectManager(BaseManager):
    """Remi as our own child (or adopted): spawn, pidfile hint, tree stop, sweep."""

    def __init__(self, target: TargetSettings, state_dir: Path, *,
                 extra_env: Mapping[str, str] | None = None, clock: Clock | None = None) -> None:
        self.target = target
        self.pidfile = pidfile_path(state_dir, target.name, target)
        self.clock = clock or SystemClock()
        self._extra_env = dict(extra_env or {})
        #: the process this watcher spawned last (the pidfile tells the next watcher)
        self._child: ProcessIdentity | None = None
        #: pidfile changes that failed ("write", "clear"), each warned about once
        self._hint_failures: set[str] = set()
        #: escaped children swept since ``take_swept`` was last asked
        self._swept: list[int] = []
        #: spawn marker → when that spawn started: its escaped children are younger, so a
        #: sweep reads the environment of younger processes only
        self._born: dict[str, float] = {}

    def find(self, *, shared: bool = False) -> list[ProcessIdentity]:
        """Our spawned Remi first (whatever its title), then argv matches by age.

        An argv match carrying the marker of our last spawn while that spawn is gone is
        an escaped child (a fork with Remi's argv): it is left for the sweep at the next
        start or stop, never adopted as Remi. ``shared``: the argv matches come from the
        round's shared process table (for a check's duplicate report only).
        """
        known = self.known_child()
        found = find_target_processes(self.target, shared=shared,
                                      besides=() if known is None else (known.pid,))
        if known is not None:
            return [known, *found]
        ours = self._spawn_ids()
        escaped = [i for i in found if ours and spawn_id_of(i.pid) in ours]
        if escaped:
            log.warning("pids %s carry the marker of the Remi we started, which is "
                        "gone: escaped children, not adopted (swept at the next start)",
                        [i.pid for i in escaped], extra={"target": self.target.name})
        return [i for i in found if i not in escaped]

    def known_child(self) -> ProcessIdentity | None:
        """The live process we spawned (this watcher or, via the pidfile, an earlier one)."""
        child = self._child
        if child is not None and is_alive(child):
            return child
        hinted = read_pidfile(self.pidfile, self.target)
        return hinted if hinted is not None and is_alive(hinted) else None

    def start(self) -> ProcessIdentity:
        """Adopt what runs; else spawn a fresh Remi, then sweep the last spawn's leftovers.

        The sweep comes after the spawn, so a Remi is back without waiting for it (it
        reads every younger process's environment): the new spawn has a marker of its
        own, so the sweep can never take it, and ``find`` already refuses to adopt a
        leftover with Remi's argv. What the sweep protects — no helper of an old spawn
        outlives its start — is kept; they overlap the new Remi by the sweep's length.
        """
        return self._start(set())

    def _start(self, stopped_spawns: set[str]) -> ProcessIdentity:
        running = self.find()
        if running:
            log.info("already running as pid %s; not starting another",
                     running[0].pid, extra={"target": self.target.name})
            if stopped_spawns:  # a restart's stop left its sweep to this start
                self._sweep({*self._spawn_ids(), *stopped_spawns},
                            self.target.restart.stop_grace_s)
            return running[0]
        leftovers = {*self._spawn_ids(), *stopped_spawns}
        ident = spawn(self.target, self._extra_env)
        self._child = ident
        self._born[ident.spawn_id] = ident.create_time
        self._keep_hint("write", lambda: write_pidfile(self.pidfile, ident, self.target))
        self._sweep(leftovers, self.target.restart.stop_grace_s)
        return ident

    def stop(self, ident: ProcessIdentity | None, grace_s: float) -> StopResult:
        """Stop ``ident``, or every running copy when None; then sweep escaped children.

        Refuses (:class:`ProcessError`) an ``ident`` that is neither our spawn nor this
        target by argv, workdir and user: a stop never guesses.
        """
        results, spawns = self._stop_trees(ident, grace_s)
        swept = self._sweep({*self._spawn_ids(), *spawns}, grace_s)
        if read_pidfile(self.pidfile, self.target) is None:
            self._keep_hint("clear", lambda: clear_pidfile(self.pidfile, self.target))
        return StopResult(stopped=any(r.stopped for r in results),
                          killed=any(r.killed for r in results), survivors=(),
                          duration_s=sum(r.duration_s for r in results), swept=swept)

    def restart(self, ident: ProcessIdentity | None, grace_s: float) -> ProcessIdentity:
        """Stop, then start; if another copy still runs it is returned, not duplicated.

        One sweep, by the start, after the new spawn (not one before it as well): a Remi
        killed with 200 others on the host is back without two passes over every process.
        """
        _, spawns = self._stop_trees(ident, grace_s)
        return self._start(spawns)

    def _stop_trees(self, ident: ProcessIdentity | None,
                    grace_s: float) -> tuple[list[StopResult], set[str]]:
        """Stop ``ident``'s tree (or every running copy's): the results, their markers."""
        if ident is not None:
            self._refuse_stranger(ident)
        idents = [ident] if ident is not None else self.find()
        results = [stop(i, grace_s, target_name=self.target.name) for i in idents]
        for i in idents:
            if i.spawn_id:
                self._born.setdefault(i.spawn_id, i.create_time)
        return results, {i.spawn_id for i in idents if i.spawn_id}

    def _keep_hint(self, kind: str, change: Callable[[], None]) -> None:
        """Write or clear the pidfile. It is only a hint (this watcher knows its child in
        memory), so failing to keep it is a warning, said once per kind until it works
        again, and never a failed start or stop."""
        try:
            change()
        except OSError as exc:
            if kind not in self._hint_failures:
                self._hint_failures.add(kind)
                log.warning("cannot %s the pidfile %s (%s); Remi is supervised anyway, "
                            "but a watcher started later will not know it started it",
                            kind, self.pidfile, exc, extra={"target": self.target.name})
        else:
            self._hint_failures.discard(kind)

    def take_swept(self) -> tuple[int, ...]:
        """The escaped children swept since the last call (by stops and starts alike)."""
        swept, self._swept = tuple(self._swept), []
        return swept

    def _spawn_ids(self) -> set[str]:
        ids = {recorded_spawn_id(self.pidfile, self.target)}
        if self._child is not None:
            ids.add(self._child.spawn_id)
        return {i for i in ids if i}

    def _refuse_stranger(self, ident: ProcessIdentity) -> None:
        if self._child is not None and same_identity(self._child, ident):
            return
        if ident.spawn_id and spawn_id_of(ident.pid) in (ident.spawn_id, None):
            return  # ours by marker (None: gone or a zombie; stop finds nothing to do)
        current = identify(ident.pid)
        reason = not_target_reason(current, self.target) if current is not None else ""
        if reason:
            raise ProcessError(self.target.name, "stop",
                               f"pid {ident.pid} is not {self.target.name} ({reason}); "
                               "refusing to signal it")

    def _sweep(self, spawn_ids: Iterable[str], grace_s: float) -> tuple[int, ...]:
        """Stop every process still carrying one of ``spawn_ids``; the pids, reported."""
        ids = {i for i in spawn_ids if i}
        born = [self._born.get(i) for i in ids]
        since = None if None in born else min((b for b in born if b is not None), default=None)
        left = carriers(ids, exclude=protected_pids(), born_since=since)
        if not left:
            return ()
        pids = tuple(i.pid for i in left)
        log.warning("sweeping %d escaped process(es) of a Remi we started: pids %s",
                    len(pids), list(pids), extra={"target": self.target.name})
        for escaped in left:
            stop(escaped, grace_s, target_name=self.target.name)
        self._swept += pids
        return pids
