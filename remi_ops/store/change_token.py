"""Whether the database may have changed since a cache read it, without a read per check.

A watcher's checks keep what they read from the store (recent restarts, error groups,
firing alerts) and must read again only when a row may have moved. Two things move rows:
this process's own writes and another process's (a ``remi-ops`` verb run without the
watcher).

Its own writes are counted per table (``OwnWrites``) by temporary triggers — they live
in the connection, not in the file, so the schema is untouched — that call back into
Python for each row inserted, updated or deleted in the tables a cache reads. A count
per table, because the alert hub writes its engine's metadata (``kv_state``) with every
commit, about once a second while checks report: a count of all commits would make
every cache read again each second. A write rolled back still counts (a read too many,
never one too few).

Another process's commits show in SQLite's ``PRAGMA data_version``, but that pragma is a
read transaction with its ``fcntl`` locks, and at 200 targets it was asked several times
a second.

In WAL mode every commit, from any process, writes frames to the ``-wal`` file, so its
identity (inode, size, modification time in ns) moves with it; one ``stat`` (no lock)
says whether the pragma is worth asking. The stat is taken *before* the pragma, so a
commit between the two moves the next stat again. The one case a stat cannot see is a
WAL restarted after a checkpoint and rewritten to the same size within one tick of the
file system's clock (a few ms); for that the pragma is asked anyway once the answer is
``TRUST_S`` old — a cache is then at most that late with another process's commit.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

#: at most this long (s) between two ``PRAGMA data_version`` when the ``-wal`` looks unchanged
TRUST_S = 30.0

WalIdentity = tuple[int, int, int] | None

#: the tables a check's caches read: restarts (the restart budget), error groups and the
#: alert engine's alerts (``checks.standing``)
COUNTED_TABLES = ("restarts", "error_groups", "alert_state")
_CALLBACK = "remi_ops_row_written"


class OwnWrites:
    """Rows this connection wrote in each of ``COUNTED_TABLES`` since it opened."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._counts: Counter[str] = Counter()
        conn.create_function(_CALLBACK, 1, self._written, deterministic=False)
        for table in COUNTED_TABLES:
            for op in ("INSERT", "UPDATE", "DELETE"):
                conn.execute(f"CREATE TEMP TRIGGER IF NOT EXISTS remi_ops_{table}_{op.lower()} "
                             f"AFTER {op} ON main.{table} BEGIN SELECT {_CALLBACK}('{table}'); "
                             "END")

    def _written(self, table: str) -> None:
        self._counts[table] += 1

    def count(self, *tables: str) -> int:
        """Rows written to ``tables`` so far (grows with each write; read without a lock:
        taken before a read, a write during it makes the next count differ)."""
        return sum(self._counts[t] for t in tables)


def wal_identity(db_path: Path) -> WalIdentity:
    """(inode, size, mtime ns) of the database's ``-wal`` file; None when there is none."""
    try:
        st = db_path.with_name(db_path.name + "-wal").stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class OutsideVersion:
    """``PRAGMA data_version`` asked only when the ``-wal`` file moved (or ``TRUST_S`` passed)."""

    def __init__(self, db_path: Path, data_version: Callable[[], int],
                 trust_s: float = TRUST_S) -> None:
        self._db_path = db_path
        self._data_version = data_version
        self._trust_s = trust_s
        self._lock = threading.Lock()
        self._wal: WalIdentity = None
        self._version = -1
        self._asked = float("-inf")

    def current(self) -> int:
        """A number that moves when another process may have committed since."""
        with self._lock:
            wal = wal_identity(self._db_path)
            now = time.monotonic()
            if wal is None or wal != self._wal or now - self._asked >= self._trust_s:
                self._wal = wal  # before the pragma: a commit in between moves it again
                self._version = self._data_version()
                self._asked = now
            return self._version
