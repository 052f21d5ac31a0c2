"""Reading a beacon file (stdlib only): what ``remi-ops watch`` and the health-check command see.

The writer is ``remi_ops.beacon`` (inside Remi); this half only reads, so the check command
(``python -m remi_ops.beacon check``) and the watcher share one reading of the format.
``written_at`` fresh but ``last_beat_at`` stale means the loop is blocked; everything stale
means the process is frozen, stopped or dead.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = 1
ENV_FILE = "REMI_BEACON_FILE"
DEFAULT_FILE = ".remi_beacon.json"

_NUMBER_FIELDS = ("written_at", "last_beat_at", "loop_lag_s", "max_lag_s", "interval_s",
                  "blocked_for_s")


@dataclass(frozen=True, slots=True)
class BeaconReading:
    """One reading of a beacon file, aged against the reader's clock."""

    pid: int | None
    age_s: float  # now − written_at: how long since the writer thread last wrote
    beat_age_s: float  # now − last_beat_at: how long since the loop last ran its beat
    loop_lag_s: float  # how late the last beat ran
    max_lag_s: float  # the worst lag between the last two writes
    blocked_for_s: float  # at write time: how long the loop had been overdue (0 = on time)
    interval_s: float
    stuck_stack: str | None  # the loop thread's stack while blocked, else None
    stopped: bool = False  # the beacon was stopped cleanly (the bot shut down)

    @property
    def lag_now_s(self) -> float:
        """How late the loop is as of this reading: the last beat's lag, or, once the writer
        saw it overdue, how long since that beat (the 850-s freeze reads 850, not the lag of
        the last good beat)."""
        if self.blocked_for_s <= 0:
            return self.loop_lag_s
        return max(self.loop_lag_s, self.blocked_for_s, self.beat_age_s - self.interval_s)


def beacon_path(path: str | os.PathLike[str] | None = None) -> Path:
    """``path``, else ``$REMI_BEACON_FILE``, else ``.remi_beacon.json`` here (absolute)."""
    chosen = path if path is not None else os.environ.get(ENV_FILE) or DEFAULT_FILE
    return Path(chosen).expanduser().absolute()


def read_beacon(path: str | os.PathLike[str], now_epoch: float) -> BeaconReading | None:
    """Read a beacon file; None when it is missing, garbled, partial or of another schema."""
    return beacon_reading(beacon_doc(path), now_epoch)


def beacon_doc(path: str | os.PathLike[str]) -> Any:
    """The beacon file's JSON as read now; None when it is missing or not JSON (a watcher
    keeps it between reads while no file event came, and ages it at each check)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def beacon_reading(doc: Any, now_epoch: float) -> BeaconReading | None:
    """``doc`` (from :func:`beacon_doc`) aged against ``now_epoch``; None when it is not a
    beacon of this schema."""
    try:
        return _reading_from(doc, now_epoch)
    except (KeyError, TypeError, ValueError):
        return None


def _reading_from(doc: Any, now_epoch: float) -> BeaconReading | None:
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        return None
    numbers = {name: _number(doc[name]) for name in _NUMBER_FIELDS}
    pid = doc.get("pid")
    stack = doc.get("stuck_stack")
    return BeaconReading(
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        age_s=max(0.0, now_epoch - numbers["written_at"]),
        beat_age_s=max(0.0, now_epoch - numbers["last_beat_at"]),
        loop_lag_s=numbers["loop_lag_s"],
        max_lag_s=numbers["max_lag_s"],
        blocked_for_s=numbers["blocked_for_s"],
        interval_s=numbers["interval_s"],
        stuck_stack=stack if isinstance(stack, str) and stack else None,
        stopped=doc.get("stopped") is True,
    )


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a number")
    if not math.isfinite(value):
        raise ValueError("not finite")
    return float(value)
