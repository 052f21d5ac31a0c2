"""Is anybody watching a target, and is that watcher still alive?

The singleton lock says a watcher process exists; the heartbeat it writes into
``.bot_health`` with every check says it still works. A watcher whose heartbeat is older
than ``[watchdog] heartbeat_stale_s`` holds the lock but restarts nothing: as bad as no
watcher, and worse for being invisible. ``remi-ops status`` and ``health`` say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from remi_ops import host
from remi_ops.checks.healthfile import read_health_file
from remi_ops.config import Settings, TargetSettings
from remi_ops.domain import Check, Finding, Status
from remi_ops.durations import format_duration
from remi_ops.exceptions import LockHeld


@dataclass(frozen=True, slots=True)
class Presence:
    """One look at a target's watcher."""

    target: str
    running: bool  # some process holds the target's singleton lock
    heartbeat_age_s: float | None  # from .bot_health; None when there is none
    stale_after_s: float
    watcher_pid: int | None = None  # who wrote the heartbeat

    @property
    def stale(self) -> bool:
        """A watcher holds the lock, but its heartbeat is too old: it is stuck."""
        age = self.heartbeat_age_s
        return self.running and age is not None and age > self.stale_after_s

    @property
    def alive(self) -> bool:
        return self.running and not self.stale

    def finding(self) -> Finding | None:
        """The ``watcher`` finding a health report gets when nobody really watches."""
        if not self.running:
            return Finding(Check.WATCHER, Status.DEGRADED,
                           "no watcher is running (remi-ops watch / bubabot): nobody will "
                           f"restart {self.target}")
        if self.stale:
            pid = f" (pid {self.watcher_pid})" if self.watcher_pid else ""
            return Finding(Check.WATCHER, Status.DEGRADED,
                           f"the watcher{pid} is stale: its last heartbeat is "
                           f"{format_duration(self.heartbeat_age_s)} old (more than "
                           f"{format_duration(self.stale_after_s)}); it is stuck and will "
                           f"not restart {self.target}")
        return None


def watcher_running(settings: Settings, target: str) -> bool:
    """True when another process holds the target's singleton lock."""
    lock = host.TargetLock(settings.target(target))
    try:
        lock.acquire()
    except LockHeld:
        return True
    lock.release()
    return False


def presence(settings: Settings, target: TargetSettings, now: datetime) -> Presence:
    """Look at the lock and at the heartbeat in the target's ``.bot_health``."""
    age, pid = None, None
    watcher = (read_health_file(target.health_file) or {}).get("watcher")
    if isinstance(watcher, dict):
        try:
            beat = datetime.fromisoformat(str(watcher["heartbeat_at"]))
            age = max(0.0, (now - beat).total_seconds())
            pid = int(watcher["pid"]) if watcher.get("pid") is not None else None
        except (KeyError, TypeError, ValueError):
            age, pid = None, None  # a hand-edited or foreign file: no heartbeat to judge
    return Presence(target.name, watcher_running(settings, target.name), age,
                    settings.watchdog.heartbeat_stale_s, pid)
