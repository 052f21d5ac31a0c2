"""The state database's connection: opening it safely, and the lock every write goes through.

One file, WAL mode, one connection shared behind a lock: callers reach it through
``asyncio.to_thread`` from several threads, and SQLite serialises writers anyway. A file
that is not a database (or is damaged) is renamed aside — never overwritten — and the
caller learns the set-aside name either from ``Store.recovery`` or from ``StoreCorrupt``.
The file and its WAL/SHM are ``0600`` in a ``0700`` directory (``remi_ops.store.filesafety``).
A file written by newer code is refused, because old code writing a newer schema is how
data disappears quietly. The row groups (``history_rows``, ``error_group_rows``,
``state_rows``) build on :class:`StoreConnection`; ``database.Store`` puts them together.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from remi_ops.clock import Clock
from remi_ops.exceptions import StoreError
from remi_ops.store.change_token import OutsideVersion, OwnWrites
from remi_ops.store.filesafety import ensure_private_dir, make_private
from remi_ops.store.records import StoreRecovery, encode_time
from remi_ops.store.schema import LATEST, NewerSchema, migrate

log = logging.getLogger("remi_ops.store.database")  # the name it logged under before the split

_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_BUSY_TIMEOUT_MS = 5000
_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_BUSY_RETRY_S = 0.02
#: SQLite's page cache for the one connection, in KiB (its default is 2000): the rows a
#: watcher reads again (state, outbox, recent history) fit; a months-old history does not
#: stay in the watcher's memory, and a page missed is one read from the OS's file cache
CACHE_KIB = 512


class StoreCorrupt(StoreError):
    """The database was damaged; it has been moved to ``set_aside`` and nothing was lost."""

    def __init__(self, path: Path, set_aside: Path, reason: str) -> None:
        self.set_aside = set_aside
        self.reason = reason
        super().__init__(str(path), f"unreadable database ({reason}); moved to {set_aside}")


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           timeout=_BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    return conn


def _set_wal(conn: sqlite3.Connection) -> None:
    """Switch a new file to WAL. SQLite answers "locked" at once, without waiting on the
    busy timeout, while another process is creating the same file (the watcher and
    ``remi-ops status`` starting together): wait for it here instead."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorcode", None) in _BUSY_CODES
            if not busy or time.monotonic() >= deadline:
                raise
            time.sleep(_BUSY_RETRY_S)


def _prepare(conn: sqlite3.Connection) -> None:
    """Pragmas plus an integrity probe; raises ``sqlite3.DatabaseError`` on a damaged file."""
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")  # before quick_check reads every page
    _set_wal(conn)
    # NORMAL in WAL mode survives a killed process; after a power cut the last commits roll
    # back together (engine state and outbox are one transaction), which stays consistent.
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    verdict = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
    if verdict != ["ok"]:
        raise sqlite3.DatabaseError("; ".join(str(v) for v in verdict[:3]))


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _CORRUPT_CODES
    return not isinstance(exc, sqlite3.OperationalError)


def _set_aside(path: Path, at: datetime) -> Path:
    """Rename the file and its WAL/SHM companions to ``<name>.corrupt-<timestamp>``."""
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.rename(target.with_name(target.name + suffix))
    return target


class StoreConnection:
    """The locked connection, its lifecycle and the read/write primitives; safe from any thread."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Clock,
                 recovery: StoreRecovery | None = None) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self.path = path
        self.clock = clock
        #: set when a damaged file was moved aside while opening; the caller should tell someone
        self.recovery = recovery
        #: rows this connection wrote, per table a cache reads (``change_token``)
        self.own_writes = OwnWrites(conn)
        self._outside = OutsideVersion(path, self._data_version)

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, path: Path, clock: Clock, *, recover: bool = True) -> Self:
        """Open (creating and migrating) the database at ``path``.

        A damaged file is always moved aside first. With ``recover`` a fresh database is
        opened and ``store.recovery`` names the set-aside file; without it ``StoreCorrupt``
        is raised so the caller decides.
        """
        ensure_private_dir(path.parent)
        try:
            return cls._open_checked(path, clock)
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise StoreError(str(path), f"cannot open: {exc}") from exc
            set_aside = _set_aside(path, clock.now())
            reason = str(exc) or type(exc).__name__
        log.warning("state database %s unreadable (%s); moved to %s", path, reason, set_aside)
        if not recover:
            raise StoreCorrupt(path, set_aside, reason)
        store = cls._open_checked(path, clock)
        store.recovery = StoreRecovery(original=path, set_aside=set_aside, reason=reason)
        return store

    @classmethod
    def _open_checked(cls, path: Path, clock: Clock) -> Self:
        try:  # audit log, samples, alert payloads: for the watcher's user only
            make_private(path)
        except OSError as exc:
            raise StoreError(str(path), f"cannot open: {exc.strerror or exc}") from exc
        conn = _connect(path)
        try:
            _prepare(conn)
            migrate(conn)
        except NewerSchema as exc:
            conn.close()
            raise StoreError(str(path), f"schema version {exc.found} is newer than this "
                             f"remi_ops supports ({LATEST}); upgrade remi_ops or use another "
                             "state file") from None
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, clock)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``); commits on success, else rolls back."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Run one read and return all rows."""
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    def change_token(self, *tables: str, outside: int | None = None) -> tuple[int, int]:
        """Equal twice → no row of ``tables`` was written between by this process, nor
        any by another (taken *before* a cached read: a write during it moves the next).

        ``outside``: an ``outside_version`` the caller took just before (one check asks it
        once for all its cached reads: one ``-wal`` stat instead of one per read)."""
        if outside is None:
            outside = self._outside.current()
        return self.own_writes.count(*tables), outside

    def outside_version(self) -> int:
        """Moves when another process may have committed (``change_token``'s second half)."""
        return self._outside.current()

    def _data_version(self) -> int:
        return int(self.query("PRAGMA data_version")[0][0])

    def _write(self, sql: str, params: Iterable[Any] = ()) -> int:
        with self.transaction() as tx:
            return tx.execute(sql, tuple(params)).lastrowid or 0

    def _at(self, at: datetime | None) -> str:
        return encode_time(at or self.clock.now())
