"""Is the event loop running? The beacon first, discord.py's warnings as the fallback — and a
hang stays a hang until the loop is seen alive again.

discord.py warns "heartbeat blocked for more than N seconds" every 10 s while the loop is
blocked, and checks (or probes) come more often: a check that falls between two warnings
sees none, which is not a sign of life. So a block, once seen, is carried (and grows with
the time since it was seen) until something only a running loop produces shows up: a fresh
beacon beat, or a log record written after the last warning (a "Can't keep up" is the
heartbeat acknowledgement being handled: the loop runs again). A new process starts clean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from remi_ops.config import HealthSettings
from remi_ops.domain import LogKind, LogRecord

if TYPE_CHECKING:
    from remi_ops.checks.health import Observation


class Beacon(Protocol):
    """What the watcher reads from Remi's beacon file (see ``remi_ops.beacon``)."""

    @property
    def pid(self) -> int | None: ...
    @property
    def age_s(self) -> float: ...
    @property
    def blocked_for_s(self) -> float: ...
    @property
    def beat_age_s(self) -> float: ...
    @property
    def interval_s(self) -> float: ...
    @property
    def loop_lag_s(self) -> float: ...
    @property
    def stuck_stack(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Blocked:
    """How long the loop has been blocked, and where (a stack, or "")."""

    seconds: float
    stack: str


@dataclass
class LoopTracker:
    """The block last seen for one process, until the loop is seen alive or the pid changes."""

    pid: int | None = None
    blocked_s: float = 0.0
    seen_at: datetime | None = None
    stack: str = ""

    def clear(self) -> None:
        self.blocked_s, self.seen_at, self.stack = 0.0, None, ""

    def forget(self) -> None:
        """A new process: nothing the old one did says anything about it."""
        self.clear()
        self.pid = None

    def blocked(self, obs: Observation, records: Sequence[LogRecord],
                s: HealthSettings) -> Blocked | None:
        """This check's view of the loop from the beacon and the records since the last."""
        pid = obs.process.identity.pid if obs.process else None
        if pid != self.pid:
            self.forget()
            self.pid = pid
        beacon = valid_beacon(obs)
        seen: list[float] = []
        stack = ""
        alive = False
        if beacon is not None:
            if beacon.age_s > s.beacon_stale_s:
                seen.append(beacon.age_s)  # not even the writer thread runs: frozen
            elif beacon.blocked_for_s > 0:
                seen.append(beacon_blocked_s(beacon))
            else:
                alive = True  # a fresh beat
            stack = beacon.stuck_stack or ""
        hangs = [i for i, r in enumerate(records) if r.kind is LogKind.HANG]
        if hangs:
            seen.append(max(records[i].blocked_s or 0.0 for i in hangs))
            stack = stack or next((records[i].traceback for i in reversed(hangs)
                                   if records[i].traceback), "")
        if beacon is None:  # with a beacon, its beat is the word on the loop
            alive = (_written_after(records, hangs[-1]) if hangs
                     else any(_sign_of_life(r) for r in records))
        return self._carry(obs.at, seen, stack, alive)

    def _carry(self, at: datetime, seen: list[float], stack: str,
               alive: bool) -> Blocked | None:
        if seen:
            blocked = max(seen)
            if alive:
                self.clear()
            else:
                self.blocked_s, self.seen_at = blocked, at
                self.stack = stack or self.stack
            return Blocked(blocked, stack or self.stack)
        if alive or self.seen_at is None:
            self.clear()
            return None
        since = max(0.0, (at - self.seen_at).total_seconds())
        return Blocked(self.blocked_s + since, self.stack)  # no word either way: still stuck


def beacon_blocked_s(beacon: Beacon) -> float:
    """How long the loop has been overdue *now*: the writer's figure is up to one write old,
    so once it saw the loop overdue, the age of the last beat (read now) is the better one."""
    if beacon.blocked_for_s <= 0:
        return 0.0
    return max(beacon.blocked_for_s, beacon.beat_age_s - beacon.interval_s)


def valid_beacon(obs: Observation) -> Beacon | None:
    """The beacon, when it is this process's: a previous incarnation's says nothing."""
    if obs.beacon is None or obs.process is None:
        return None
    return obs.beacon if obs.beacon.pid in (None, obs.process.identity.pid) else None


def _sign_of_life(record: LogRecord) -> bool:
    """Only a running loop writes it: anything but another "heartbeat blocked" warning."""
    return record.kind is not LogKind.HANG


def _written_after(records: Sequence[LogRecord], last_hang: int) -> bool:
    """A sign of life written after the last warning: later in the same file, or (the other
    file) with a later timestamp."""
    hang = records[last_hang]
    for i, r in enumerate(records):
        if i == last_hang or not _sign_of_life(r):
            continue
        if r.source == hang.source:
            if i > last_hang:
                return True
        elif r.at is not None and hang.at is not None and r.at > hang.at:
            return True
    return False
