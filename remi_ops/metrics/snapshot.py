"""One frozen reading of everything the metrics show, taken off the loop, read by scrapes.

The watcher takes a snapshot every few seconds (``exporter``) and publishes it whole; the
HTTP thread of a scrape reads only the published value. So a scrape never touches the
SQLite connection, a check's lock or the alert engine, and a slow scrape slows nothing.

What is read here: references the check threads replace whole (the supervisor's state and
process, the last report) — a plain read of each is safe without their lock — Remi's
beacon file, the alert engine (which locks itself) and the store's running totals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from remi_ops.checks.loop import beacon_blocked_s
from remi_ops.metrics.tallies import ErrorTally, RestartTally, error_tally, restart_tally

if TYPE_CHECKING:
    from remi_ops.alerts.hub import AlertHub
    from remi_ops.alerts.outbox import Outbox
    from remi_ops.beacon import BeaconReading
    from remi_ops.clock import Clock
    from remi_ops.domain import ProcessIdentity
    from remi_ops.store.database import Store
    from remi_ops.watch.target import TargetWatch


class Watched(Protocol):
    """The parts of a ``Watcher`` the metrics read."""

    @property
    def watches(self) -> Mapping[str, TargetWatch]: ...
    @property
    def hub(self) -> AlertHub: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def store(self) -> Store: ...
    @property
    def clock(self) -> Clock: ...


@dataclass(frozen=True, slots=True)
class TargetReading:
    """One target as the metrics show it."""

    name: str
    state: str
    up: bool  # Remi's process is running (healthy or not)
    started_at: float | None = None  # the process's start, unix time
    last_check_at: float | None = None
    health: str | None = None  # the last check's status
    loop_lag_s: float | None = None  # from the beacon, when it is this process's
    restarts: RestartTally = field(default_factory=RestartTally)
    errors: ErrorTally = field(default_factory=ErrorTally)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a scrape shows, as of ``taken_at`` (the watcher's heartbeat)."""

    taken_at: float
    targets: tuple[TargetReading, ...] = ()
    #: firing alerts (flapping included) per (target, severity)
    firing: Mapping[tuple[str, str], int] = field(default_factory=dict)
    #: undelivered notifications per sink
    outbox_depth: Mapping[str, int] = field(default_factory=dict)
    #: failed delivery attempts per sink since the watcher started
    failures: Mapping[str, int] = field(default_factory=dict)


def take_snapshot(watched: Watched, failures: Mapping[str, int]) -> Snapshot:
    """Read everything (blocking: the beacon files and the store; run it in a thread).

    ``failures`` is copied by the caller on the loop, where the outbox counts them.
    """
    firing = Counter((line.key.target, line.severity.value) for line in watched.hub.alerts())
    return Snapshot(
        taken_at=watched.clock.now().timestamp(),
        targets=tuple(read_target(w) for w in watched.watches.values()),
        firing=dict(firing), outbox_depth=watched.outbox.backlog(), failures=dict(failures))


def read_target(watch: TargetWatch) -> TargetReading:
    ident, report = watch.supervisor.process, watch.last_report
    return TargetReading(
        name=watch.name, state=watch.supervisor.state.value, up=ident is not None,
        started_at=ident.create_time if ident is not None else None,
        last_check_at=report.checked_at.timestamp() if report is not None else None,
        health=report.status.value if report is not None else None,
        loop_lag_s=remi_loop_lag(watch),
        restarts=restart_tally(watch.store, watch.name),
        errors=error_tally(watch.store, watch.name))


def remi_loop_lag(watch: TargetWatch) -> float | None:
    ident = watch.supervisor.process
    return loop_lag_of(ident, watch.observer.beacon() if ident is not None else None)


def loop_lag_of(ident: ProcessIdentity | None, beacon: BeaconReading | None) -> float | None:
    """How late Remi's event loop is now: the last beat's lag, or, while it is blocked,
    how long it has been (the 850-s freeze shows as 850, not as the last good beat).
    None without a running process or a beacon of its own."""
    if ident is None or beacon is None or beacon.stopped or beacon.pid not in (None, ident.pid):
        return None
    return max(beacon.loop_lag_s, beacon_blocked_s(beacon))
