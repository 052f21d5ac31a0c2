"""Whether the database may have changed since a cache read it, without a read per check.

A watcher's checks keep what they read from the store (recent restarts, error groups,
firing alerts) and must read again only when a row may have moved. Two things move rows:
this process's own commits, counted by ``StoreConnection.own_writes``, and another
process's (a ``remi-ops`` verb run without the watcher), which SQLite's
``PRAGMA data_version`` reveals — but that pragma is a read transaction with its
``fcntl`` locks, and at 200 targets it was asked several times a second.

In WAL mode every commit, from any process, writes frames to the ``-wal`` file, so its
identity (inode, size, modification time in ns) moves with it; one ``stat`` (no lock)
says whether the pragma is worth asking. The stat is taken *before* the pragma, so a
commit between the two moves the next stat again. The one case a stat cannot see is a
WAL restarted after a checkpoint and rewritten to the same size within one tick of the
file system's clock (a few ms); for that the pragma is asked anyway once the answer is
``TRUST_S`` old — a cache is then at most that late with another process's commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

#: at most this long (s) between two ``PRAGMA data_version`` when the ``-wal`` looks unchanged
TRUST_S = 30.0

WalIdentity = tuple[int, int, int] | None


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
