"""Remi as our own child (or adopted): spawn, pidfile hint, whole-tree stop.

The manager for ``manager = "process"``: no service manager owns Remi, so the watcher
starts it itself, records a pidfile hint, and stops it tree and all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from remi_ops.clock import Clock, SystemClock
from remi_ops.config import TargetSettings
from remi_ops.domain import ProcessIdentity
from remi_ops.host.adoption import (
    clear_pidfile,
    find_target_processes,
    pidfile_path,
    read_pidfile,
    write_pidfile,
)
from remi_ops.host.base import BaseManager
from remi_ops.host.lifecycle import spawn
from remi_ops.host.stopping import StopResult, stop

log = logging.getLogger(__name__)


class DirectManager(BaseManager):
    """Remi as our own child (or adopted): spawn, pidfile hint, tree stop."""

    def __init__(self, target: TargetSettings, state_dir: Path, *,
                 extra_env: Mapping[str, str] | None = None, clock: Clock | None = None) -> None:
        self.target = target
        self.pidfile = pidfile_path(state_dir, target.name)
        self.clock = clock or SystemClock()
        self._extra_env = dict(extra_env or {})

    def find(self) -> list[ProcessIdentity]:
        """The pidfile's process first (if it is still that process), then matches by age."""
        hinted = read_pidfile(self.pidfile)
        found = find_target_processes(self.target)
        if hinted is None:
            return found
        return [hinted, *(i for i in found if i.pid != hinted.pid)]

    def start(self) -> ProcessIdentity:
        running = self.find()
        if running:
            log.info("%s: already running as pid %s; not starting another",
                     self.target.name, running[0].pid)
            return running[0]
        ident = spawn(self.target, self._extra_env)
        write_pidfile(self.pidfile, ident)
        return ident

    def stop(self, ident: ProcessIdentity | None, grace_s: float) -> StopResult:
        """Stop ``ident``, or every running copy when None (the target should run once)."""
        idents = [ident] if ident is not None else self.find()
        results = [stop(i, grace_s, target_name=self.target.name) for i in idents]
        if read_pidfile(self.pidfile) is None:
            clear_pidfile(self.pidfile)
        return StopResult(stopped=any(r.stopped for r in results),
                          killed=any(r.killed for r in results), survivors=(),
                          duration_s=sum(r.duration_s for r in results))

    def restart(self, ident: ProcessIdentity | None, grace_s: float) -> ProcessIdentity:
        """Stop, then start; if another copy still runs it is returned, not duplicated."""
        self.stop(ident, grace_s)
        return self.start()
