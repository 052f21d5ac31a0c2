"""Is anybody watching a target, and is that watcher still alive?

The singleton lock says a watcher process exists; the heartbeat it writes into
``.bot_health`` with every check says it still works. A watcher whose heartbeat is older
than ``[watchdog] heartbeat_stale_s`` holds the lock but restarts nothing: as bad as no
watcher, and worse for being invisible. ``remi-ops status`` and ``health`` say so ("watcher
stale (last beat 12s ago)", "watcher not running") and exit 1; a command line that handed a
verb to a watcher stops waiting for it once it turns stale (:func:`stuck_watcher`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from remi_ops import host
from remi_ops.checks.healthfile import read_health_file
from remi_ops.config import Settings, TargetSettings
from remi_ops.domain import Check, Finding, Status
from remi_ops.durations import format_duration


class WatcherState(StrEnum):
    RUNNING = "running"
    STALE = "stale"  # holds the lock, but its heartbeat is too old: frozen or stuck
    NOT_RUNNING = "not running"


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

    @property
    def state(self) -> WatcherState:
        if not self.running:
            return WatcherState.NOT_RUNNING
        return WatcherState.STALE if self.stale else WatcherState.RUNNING

    def words(self) -> str:
        """"watcher running", "watcher not running", "watcher stale (last beat 12s ago)"."""
        if self.stale:
            return f"watcher stale (last beat {format_duration(self.heartbeat_age_s)} ago)"
        return f"watcher {self.state}"

    def to_dict(self) -> dict[str, Any]:
        """What ``--json`` carries: ``{"state": "stale", "last_beat_age_s": 12.3, …}``."""
        age = self.heartbeat_age_s
        return {"state": str(self.state), "pid": self.watcher_pid,
                "last_beat_age_s": None if age is None else round(age, 1),
                "stale_after_s": self.stale_after_s}

    def finding(self) -> Finding | None:
        """The ``watcher`` finding a health report gets when nobody really watches."""
        if not self.running:
            return Finding(Check.WATCHER, Status.DEGRADED,
                           "watcher not running (remi-ops watch / bubabot): nobody will "
                           f"restart {self.target}")
        if self.stale:
            pid = f"pid {self.watcher_pid} " if self.watcher_pid else ""
            return Finding(Check.WATCHER, Status.DEGRADED,
                           f"{self.words()}: more than "
                           f"{format_duration(self.stale_after_s)}; it ({pid}holds the lock) "
                           f"is stuck or frozen and will not restart {self.target}")
        return None


def watcher_running(settings: Settings, target: str) -> bool:
    """True when another process holds the target's singleton lock."""
    return host.TargetLock(settings.target(target)).held_elsewhere()


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


def stuck_watcher(settings: Settings, names: Iterable[str], now: datetime) -> str | None:
    """"remi: watcher stale (last beat 12s ago)" for the first of ``names`` whose watcher is
    stale, else None: a request handed to it will not be answered."""
    for name in names:
        seen = presence(settings, settings.target(name), now)
        if seen.stale:
            return f"{name}: {seen.words()}"
    return None
