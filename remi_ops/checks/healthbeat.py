"""``.bot_health`` rewritten only when it says something new; otherwise its mtime moves.

Every check used to rewrite the whole document (JSON, a write, an exchange of names),
although on a quiet Remi only its times and measurements change: ``checked_at``, the
watcher's ``heartbeat_at``, the process's uptime, CPU and memory, the beacon's age and
the loop lag. In a watcher of 200 targets that rewrite was the dearest step of a check,
and each one woke the watcher's own file-event reader (``watch.fileevents``).

Now a check rewrites the file when what it *says* differs from what it holds — status,
reasons, findings, supervisor state, the process's pid, state and children, gateway, new
error groups, restarts, the watcher's pid — or when the measurements in it are older than
``rewrite_after_s`` (half of ``heartbeat_stale_s`` in a watcher, 90 s by default).
Otherwise it sets the file's mtime to the check's time (one ``stat`` to see the file is
still as we left it, one ``utime``: no inotify event in the folder mask, nothing written).

Who relies on what:

* ``remi-ops status`` / ``health`` and a command waiting on a watcher
  (``watch.presence``) judge the watcher by its heartbeat: the document says
  ``"beat_in_mtime": true`` in its ``watcher`` part, and ``read_health_file`` then gives
  as ``watcher.heartbeat_at`` (and as ``checked_at``: ``status --json``'s
  ``last_check_at``) the later of the written time and the file's mtime, so the heartbeat
  is as fresh as before (every check) and ``heartbeat_stale_s`` means the same.
* A script that reads the JSON alone (``cat .bot_health``) sees the status of the last
  check (a change is written at once) and a ``heartbeat_at``/``checked_at`` at most
  ``rewrite_after_s`` plus one interval old; the file's mtime is the last check.
* ``bench/bench_scale.py`` and ``bench/profile_watch.py`` count a check by the mtime
  moving; the check wait is measured on the rewrites (``checked_at`` moved).
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from remi_ops.checks.healthfile import report_to_dict, spare_of, write_health_file
from remi_ops.domain import HealthReport

#: the share of ``heartbeat_stale_s`` after which a watcher rewrites what it measured
REWRITE_SHARE = 0.5

#: what changes with every check without saying anything new: kept only as "is there one"
_MEASURED = ("checked_at", "loop_lag_s", "beacon_age_s")
_MEASURED_PROCESS = ("cpu_percent", "rss_mb", "uptime_s")

#: (inode, size, mtime in ns): the file as this keeper left it
Signature = tuple[int, int, int]


def what_it_says(report: HealthReport) -> dict[str, Any]:
    """The report without its measurements (each replaced by whether there is one)."""
    doc = report_to_dict(report)
    for key in _MEASURED:
        doc[key] = doc[key] is None
    process = doc["process"]
    if process is not None:
        for key in _MEASURED_PROCESS:
            process[key] = None
    return doc


def _says(report: HealthReport, watcher_pid: int, check_interval_s: float) -> dict[str, Any]:
    return {**what_it_says(report), "watcher": [watcher_pid, check_interval_s]}


@dataclass(slots=True)
class _Written:
    says: dict[str, Any]
    beat: datetime
    signature: Signature


class HealthFileKeeper:
    """One target's ``.bot_health`` in this process: rewrite or touch (see above)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._written: _Written | None = None

    def keep(self, report: HealthReport, *, watcher_pid: int, watcher_beat: datetime,
             check_interval_s: float, rewrite_after_s: float) -> bool:
        """Record one check; True when the document was rewritten, False when touched.

        Raises ``OSError`` when the rewrite fails (the caller says so and goes on)."""
        if self.touch(report, watcher_pid=watcher_pid, watcher_beat=watcher_beat,
                      check_interval_s=check_interval_s, rewrite_after_s=rewrite_after_s):
            return False
        self.rewrite(report, watcher_pid=watcher_pid, watcher_beat=watcher_beat,
                     check_interval_s=check_interval_s)
        return True

    def touch(self, report: HealthReport, *, watcher_pid: int, watcher_beat: datetime,
              check_interval_s: float, rewrite_after_s: float) -> bool:
        """A check that says nothing new, within ``rewrite_after_s`` of the last rewrite,
        of a file still as we left it: its mtime moves (True). False: rewrite it."""
        last = self._written
        return (last is not None
                and (watcher_beat - last.beat).total_seconds() < rewrite_after_s
                and last.says == _says(report, watcher_pid, check_interval_s)
                and self._touch(last, watcher_beat))

    def rewrite(self, report: HealthReport, *, watcher_pid: int, watcher_beat: datetime,
                check_interval_s: float) -> None:
        """Write the whole document (``OSError`` when that fails)."""
        self._written = None  # until the rewrite is done: a failed one rewrites again
        write_health_file(self.path, report, watcher_pid=watcher_pid,
                          watcher_beat=watcher_beat, check_interval_s=check_interval_s,
                          beat_in_mtime=True)
        self._written = _Written(_says(report, watcher_pid, check_interval_s), watcher_beat,
                                 self._stamp(watcher_beat))

    def _touch(self, last: _Written, beat: datetime) -> bool:
        """Move the mtime to ``beat`` if the file is still the one we left (nobody wrote,
        replaced or removed it since); False means: rewrite it."""
        try:
            st = self.path.stat()
            if (st.st_ino, st.st_size, st.st_mtime_ns) != last.signature:
                return False
            ns = _ns(beat)
            os.utime(self.path, ns=(st.st_atime_ns, ns))
        except OSError:
            return False
        last.signature = (st.st_ino, st.st_size, ns)
        return True

    def _stamp(self, beat: datetime) -> Signature:
        """Give the freshly written file the check's time as its mtime (as a touch
        would), and remember it as we left it."""
        ns = _ns(beat)
        try:
            st = self.path.stat()
            os.utime(self.path, ns=(st.st_atime_ns, ns))
        except OSError:
            return (0, -1, 0)  # matches no file: the next check rewrites
        return (st.st_ino, st.st_size, ns)


def _ns(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000) * 1000


_KEEPERS: dict[Path, HealthFileKeeper] = {}
_KEEPERS_LOCK = threading.Lock()


def keeper_for(path: Path) -> HealthFileKeeper:
    """The one keeper of ``path`` in this process (a target's checks are serial; what it
    last wrote must outlive one check)."""
    with _KEEPERS_LOCK:
        keeper = _KEEPERS.get(path)
        if keeper is None:
            keeper = _KEEPERS[path] = HealthFileKeeper(path)
        return keeper


def let_go(path: Path) -> None:
    """A clean stop: forget what was written (a later watcher in this process rewrites
    first) and remove the exchange's spare, so Remi's workdir holds only ``.bot_health``
    while nobody watches. The status file itself stays: the last word of the watcher."""
    with _KEEPERS_LOCK:
        _KEEPERS.pop(path, None)
    with contextlib.suppress(OSError):  # none (no exchange here, never written), or not ours
        spare_of(path).unlink()
