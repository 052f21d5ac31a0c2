"""Observe: one look at a target — its process, what it logged, its beacon, its code.

Reads (the process table, the log files, the beacon file, ``.git``, the store); what must
be kept is carried in the ``Observation`` for the record step, except the error
occurrences and log positions, which are stored as they are read (``occurrences``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from remi_ops.beacon import BeaconReading
from remi_ops.beacon.reader import beacon_doc, beacon_reading
from remi_ops.checks.codewatch import CodeState, code_state
from remi_ops.checks.health import Observation
from remi_ops.checks.standing_cache import StandingCache
from remi_ops.clock import Clock
from remi_ops.config import TargetSettings
from remi_ops.domain import ProcessIdentity, RestartReport, ScanResult, Trigger
from remi_ops.exceptions import ProcessError
from remi_ops.host import ProcessManager, one_look
from remi_ops.host.workdir import workdir_problem
from remi_ops.logs.redact import Redact
from remi_ops.store.database import Store
from remi_ops.supervision.supervisor import State, Supervisor
from remi_ops.watch.gatedlook import GatedLook
from remi_ops.watch.intake import LogIntake
from remi_ops.watch.occurrences import Occurrences


@dataclass
class Observer:
    """The eyes of one target's watch."""

    target: TargetSettings
    manager: ProcessManager
    store: Store
    clock: Clock
    redact: Redact
    intake: LogIntake
    occurrences: Occurrences
    #: restarts (not first starts) of the budget window, newest first, as last read from
    #: the store, and the store's ``data_version`` then; None: read them at the next check
    _restarts: list[datetime] | None = field(default=None, init=False, repr=False)
    _store_version: int = field(default=-1, init=False, repr=False)
    #: recent error groups and firing alerts, read again only when the store changed
    _standing: StandingCache = field(default_factory=StandingCache, init=False, repr=False)
    #: the beacon file's JSON and whether ``.git`` exists, looked at again after a file
    #: event (or a safety look) once the watcher gates them (``filegate.gate_observer``)
    beacon_look: GatedLook[Any] = field(init=False, repr=False)
    git_look: GatedLook[bool] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        beacon_file, git = self.target.beacon_file, self.target.workdir / ".git"
        self.beacon_look = GatedLook(lambda: beacon_doc(beacon_file))
        self.git_look = GatedLook(git.exists)

    def observe(self, supervisor: Supervisor, last_scan: ScanResult | None) -> Observation:
        ident = supervisor.process
        with one_look():  # the snapshot and the duplicate report read its stat once
            # None when it vanished between looks: the exit waiter reports the death
            snapshot = self.manager.snapshot(ident, shared=True) if ident else None
            duplicates = tuple(self.duplicates()) if snapshot else ()
        self.intake.read()  # what it finds is grouped and stored as it is read
        records = self.intake.take()
        seen, fresh = self.occurrences.take()
        now = self.clock.now()
        # one look at the store's ``-wal`` for both cached reads below, taken before them
        outside = self.store.outside_version()
        return Observation(
            target=self.target.name, at=now, supervisor_state=str(supervisor.state),
            expected_alive=supervisor.state in (State.RUNNING, State.UNHEALTHY),
            process=snapshot, duplicates=duplicates,
            records=records, new_groups=fresh,
            beacon=self.beacon(), last_scan=last_scan, gateway=self.intake.gateway,
            restarts_recent=self.restarts_recent(outside), seen_groups=seen,
            code=self.code(),
            standing=self._standing.read(self.store, self.target.name, now,
                                         self.target.health.recent_errors_s, snapshot,
                                         outside=outside),
            workdir_problem="" if snapshot else workdir_problem(self.target.workdir))

    def find(self) -> list[ProcessIdentity]:
        """Running copies of the target (empty when the process table cannot be read)."""
        try:
            return self.manager.find()
        except ProcessError:
            return []

    def duplicates(self) -> list[ProcessIdentity]:
        """Running copies for the duplicate report, from the round's shared process table
        (a copy started in the last second is seen at the next check)."""
        try:
            return self.manager.find(shared=True)
        except ProcessError:
            return []

    def beacon(self) -> BeaconReading | None:
        return beacon_reading(self.beacon_look.get(), self.clock.now().timestamp())

    def code(self) -> CodeState | None:
        """Remi's code now, when there is something to watch (git HEAD or watched paths)."""
        if not self.target.watch_paths and not self.git_look.get():
            return None
        return code_state(self.target.workdir, self.target.watch_paths)

    def restarts_recent(self, outside: int | None = None) -> int:
        """Restarts (not first starts) within the budget window, from the store.

        The rows are read again only when something may have added one: this watch
        recorded a restart (``restarts_recorded``) or another process wrote to the
        store (its ``data_version`` moved); otherwise the times read last are counted
        against the window as it is now, without a query per check. ``outside``: the
        store's ``outside_version`` the check took before its cached reads.
        """
        since = self.clock.now() - timedelta(seconds=self.target.restart.budget_window_s)
        version = self.store.outside_version() if outside is None else outside
        if self._restarts is None or version != self._store_version:
            self._store_version = version
            self._restarts = [r.at for r in self.store.restarts(self.target.name, since)
                              if r.trigger is not Trigger.START]
        return sum(1 for at in self._restarts if at >= since)

    def restarts_recorded(self, restarts: Sequence[RestartReport]) -> None:
        """This watch stored ``restarts``: count them from the next check on."""
        if restarts:
            self._restarts = None
