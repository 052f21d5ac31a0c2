"""The SQLite store: everything the watcher must remember across restarts.

One file, WAL mode, one connection shared behind a lock: callers reach it through
``asyncio.to_thread`` from several threads, and SQLite serialises writers anyway. A file
that is not a database (or is damaged) is renamed aside — never overwritten — and the
caller learns the set-aside name either from ``Store.recovery`` or from ``StoreCorrupt``.
A file written by newer code is refused, because old code writing a newer schema is how
data disappears quietly.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from remi_ops.clock import Clock
from remi_ops.domain import ErrorGroup, RestartReport, ScanResult, Severity
from remi_ops.exceptions import StoreError
from remi_ops.store.records import (
    AuditEntry,
    HistoryItem,
    Incident,
    StoreRecovery,
    Transition,
    audit_from_row,
    decode_time,
    encode_json,
    encode_time,
    group_from_row,
    history_of_incident,
    history_of_restart,
    incident_from_row,
    restart_from_row,
    scan_from_row,
    transition_from_row,
)
from remi_ops.store.schema import LATEST, NewerSchema, migrate

log = logging.getLogger(__name__)

#: an error group seen again after this much quiet counts as a regression (posted anew)
REGRESSION_QUIET = timedelta(hours=24)
ENGINE_STATE_KEY = "alerts.engine"
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_BUSY_TIMEOUT_MS = 5000


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


def _prepare(conn: sqlite3.Connection) -> None:
    """Pragmas plus an integrity probe; raises ``sqlite3.DatabaseError`` on a damaged file."""
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
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


class Store:
    """Typed access to the state database. Every method is safe to call from any thread."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Clock,
                 recovery: StoreRecovery | None = None) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self.path = path
        self.clock = clock
        #: set when a damaged file was moved aside while opening; the caller should tell someone
        self.recovery = recovery

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, path: Path, clock: Clock, *, recover: bool = True) -> Store:
        """Open (creating and migrating) the database at ``path``.

        A damaged file is always moved aside first. With ``recover`` a fresh database is
        opened and ``store.recovery`` names the set-aside file; without it ``StoreCorrupt``
        is raised so the caller decides.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
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
    def _open_checked(cls, path: Path, clock: Clock) -> Store:
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

    def __enter__(self) -> Store:
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

    def _write(self, sql: str, params: Iterable[Any] = ()) -> int:
        with self.transaction() as tx:
            return tx.execute(sql, tuple(params)).lastrowid or 0

    def _at(self, at: datetime | None) -> str:
        return encode_time(at or self.clock.now())

    # ------------------------------------------------------------------ incidents

    def open_incident(self, target: str, title: str, severity: Severity, summary: str = "",
                      at: datetime | None = None) -> Incident:
        """Start an incident, or return the one already open for ``target``."""
        with self.transaction() as tx:
            row = tx.execute("SELECT * FROM incidents WHERE target = ? AND closed_at IS NULL "
                             "ORDER BY id DESC LIMIT 1", (target,)).fetchone()
            if row is None:
                new_id = tx.execute(
                    "INSERT INTO incidents (target, opened_at, title, severity, summary) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (target, self._at(at), title, severity.value, summary)).lastrowid
                row = tx.execute("SELECT * FROM incidents WHERE id = ?", (new_id,)).fetchone()
        return incident_from_row(row)

    def close_incident(self, incident_id: int, summary: str | None = None,
                       at: datetime | None = None) -> Incident | None:
        """Close an open incident; ``None`` if there is no such incident."""
        with self.transaction() as tx:
            tx.execute("UPDATE incidents SET closed_at = coalesce(closed_at, ?), "
                       "summary = coalesce(?, summary) WHERE id = ?",
                       (self._at(at), summary, incident_id))
            row = tx.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return None if row is None else incident_from_row(row)

    def incidents(self, since: datetime, target: str | None = None) -> list[Incident]:
        """Incidents open at any moment after ``since``, newest first."""
        rows = self.query("SELECT * FROM incidents WHERE (closed_at IS NULL OR closed_at >= ?) "
                          "AND (? IS NULL OR target = ?) ORDER BY opened_at DESC, id DESC",
                          (encode_time(since), target, target))
        return [incident_from_row(r) for r in rows]

    # ------------------------------------------------------------------ transitions, restarts

    def record_transition(self, target: str, at: datetime | None, from_state: str,
                          to_state: str, reason: str) -> None:
        """Keep one supervisor state change (``at=None`` means now)."""
        self._write("INSERT INTO transitions (target, at, from_state, to_state, reason) "
                    "VALUES (?, ?, ?, ?, ?)", (target, self._at(at), from_state, to_state, reason))

    def transitions(self, target: str, since: datetime) -> list[Transition]:
        rows = self.query("SELECT * FROM transitions WHERE target = ? AND at >= ? "
                          "ORDER BY at, id", (target, encode_time(since)))
        return [transition_from_row(r) for r in rows]

    def record_restart(self, report: RestartReport) -> int:
        return self._write(
            "INSERT INTO restarts (target, at, reason, trigger, requested_by, ok, duration_s, "
            "old_pid, new_pid, detail, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (report.target, encode_time(report.at), report.reason, report.trigger,
             report.requested_by, int(report.ok), report.duration_s, report.old_pid,
             report.new_pid, report.detail, report.evidence))

    def restarts(self, target: str, since: datetime) -> list[RestartReport]:
        """Restarts of ``target`` since ``since``, newest first."""
        rows = self.query("SELECT * FROM restarts WHERE target = ? AND at >= ? "
                          "ORDER BY at DESC, id DESC", (target, encode_time(since)))
        return [restart_from_row(r) for r in rows]

    def count_restarts(self, target: str, since: datetime) -> int:
        rows = self.query("SELECT count(*) FROM restarts WHERE target = ? AND at >= ?",
                          (target, encode_time(since)))
        return int(rows[0][0])

    # ------------------------------------------------------------------ error groups

    def upsert_error_groups(self, target: str, groups: Iterable[ErrorGroup]) -> list[str]:
        """Add a batch of occurrences; return fingerprints that are new or regressed.

        Each group's ``count`` is the number of occurrences *in this batch*; the store keeps
        the running total. A group regresses when it is seen after being resolved, or after
        ``REGRESSION_QUIET`` without occurrences; those are the ones worth a new post.
        """
        fresh: list[str] = []
        with self.transaction() as tx:
            for group in groups:
                if self._upsert_group(tx, target, group):
                    fresh.append(group.fingerprint)
        return fresh

    @staticmethod
    def _upsert_group(tx: sqlite3.Connection, target: str, group: ErrorGroup) -> bool:
        row = tx.execute("SELECT last_seen, first_seen, resolved_at FROM error_groups "
                         "WHERE target = ? AND fingerprint = ?",
                         (target, group.fingerprint)).fetchone()
        first, last = encode_time(group.first_seen), encode_time(group.last_seen)
        if row is None:
            tx.execute("INSERT INTO error_groups (target, fingerprint, title, kind, count, "
                       "first_seen, last_seen, sample, culprit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (target, group.fingerprint, group.title, group.kind.value, group.count,
                        first, last, group.sample, group.culprit))
            return True
        resolved = row["resolved_at"]
        regressed = (resolved is not None and last > resolved) or (
            group.first_seen - decode_time(row["last_seen"]) >= REGRESSION_QUIET)
        tx.execute("UPDATE error_groups SET title = ?, kind = ?, count = count + ?, "
                   "first_seen = min(first_seen, ?), last_seen = max(last_seen, ?), sample = ?, "
                   "culprit = ?, resolved_at = CASE WHEN ? THEN NULL ELSE resolved_at END "
                   "WHERE target = ? AND fingerprint = ?",
                   (group.title, group.kind.value, group.count, first, last, group.sample,
                    group.culprit, regressed or resolved is None, target, group.fingerprint))
        return regressed

    def resolve_error_group(self, target: str, fingerprint: str,
                            at: datetime | None = None) -> bool:
        """Mark a group resolved (a fix landed); its next occurrence is a regression."""
        with self.transaction() as tx:
            cur = tx.execute("UPDATE error_groups SET resolved_at = ? WHERE target = ? AND "
                             "fingerprint = ?", (self._at(at), target, fingerprint))
            return cur.rowcount == 1

    def error_groups(self, target: str, since: datetime | None = None,
                     limit: int = 50) -> list[ErrorGroup]:
        """Groups of ``target`` seen since ``since``, most recently seen first."""
        rows = self.query("SELECT * FROM error_groups WHERE target = ? AND last_seen >= ? "
                          "ORDER BY last_seen DESC LIMIT ?",
                          (target, encode_time(since) if since else "", limit))
        return [group_from_row(r) for r in rows]

    # ------------------------------------------------------------------ scans

    def record_scan(self, result: ScanResult) -> int:
        return self._write(
            "INSERT INTO scans (target, started_at, outcome, duration_s, exit_code, output, "
            "reason, fingerprint, over_budget, commit_sha) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (result.target, encode_time(result.started_at), result.outcome.value,
             result.duration_s, result.exit_code, result.output, result.reason,
             result.fingerprint, int(result.over_budget), result.commit))

    def last_scan(self, target: str) -> ScanResult | None:
        rows = self.query("SELECT * FROM scans WHERE target = ? ORDER BY started_at DESC, "
                          "id DESC LIMIT 1", (target,))
        return scan_from_row(rows[0]) if rows else None

    def scans(self, target: str, since: datetime) -> list[ScanResult]:
        """Scan tests since ``since``, newest first."""
        rows = self.query("SELECT * FROM scans WHERE target = ? AND started_at >= ? "
                          "ORDER BY started_at DESC, id DESC", (target, encode_time(since)))
        return [scan_from_row(r) for r in rows]

    # ------------------------------------------------------------------ audit

    def audit(self, actor: str, action: str, target: str, *, arguments: Mapping[str, Any],
              result: str, ok: bool, duration_s: float, at: datetime | None = None) -> int:
        """Record who did what; ``arguments`` must already be redacted."""
        return self._write(
            "INSERT INTO audit (at, actor, action, target, arguments, result, ok, duration_s) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (self._at(at), actor, action, target, encode_json(dict(arguments)), result,
             int(ok), duration_s))

    def audit_log(self, since: datetime | None = None, limit: int = 100) -> list[AuditEntry]:
        """Audit entries since ``since``, newest first."""
        rows = self.query("SELECT * FROM audit WHERE at >= ? ORDER BY at DESC, id DESC LIMIT ?",
                          (encode_time(since) if since else "", limit))
        return [audit_from_row(r) for r in rows]

    # ------------------------------------------------------------------ positions and state

    def save_position(self, target: str, stream: str, position: Mapping[str, Any]) -> None:
        """Remember where tailing stopped (inode, offset, …) so a restart resumes there."""
        self._write("INSERT INTO log_positions (target, stream, position, updated_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (target, stream) DO UPDATE SET "
                    "position = excluded.position, updated_at = excluded.updated_at",
                    (target, stream, encode_json(dict(position)), self._at(None)))

    def load_position(self, target: str, stream: str) -> dict[str, Any] | None:
        rows = self.query("SELECT position FROM log_positions WHERE target = ? AND stream = ?",
                          (target, stream))
        return json.loads(rows[0][0]) if rows else None

    def get_state(self, key: str) -> Any:
        """The JSON value stored under ``key``, or ``None``."""
        rows = self.query("SELECT value FROM kv_state WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def put_state(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value under ``key`` (replacing any previous one)."""
        with self.transaction() as tx:
            put_state_tx(tx, key, value, self._at(None))

    # ------------------------------------------------------------------ alert engine state

    def load_alert_state(self) -> dict[str, Any] | None:
        """The alert engine's persisted state (``AlertEngine.from_dict`` input), if any."""
        meta = self.get_state(ENGINE_STATE_KEY)
        if meta is None:
            return None
        rows = self.query("SELECT key, data FROM alert_state")
        return {"meta": meta, "records": {r["key"]: json.loads(r["data"]) for r in rows}}

    def save_alert_state(self, meta: Mapping[str, Any],
                         upserts: Iterable[tuple[str, str, Mapping[str, Any]]],
                         deletes: Iterable[str]) -> None:
        """Save engine changes without notifications (the outbox does both in one go)."""
        with self.transaction() as tx:
            save_alert_state_tx(tx, meta, upserts, deletes, self._at(None))

    # ------------------------------------------------------------------ history

    def history(self, since: datetime, target: str | None = None) -> list[HistoryItem]:
        """Incidents and restarts since ``since`` on one timeline, newest first."""
        items = [history_of_incident(i) for i in self.incidents(since, target)]
        rows = self.query("SELECT * FROM restarts WHERE at >= ? AND (? IS NULL OR target = ?)",
                          (encode_time(since), target, target))
        items += [history_of_restart(restart_from_row(r)) for r in rows]
        return sorted(items, key=lambda item: item.at, reverse=True)


def put_state_tx(tx: sqlite3.Connection, key: str, value: Any, at: str) -> None:
    """``put_state`` inside a transaction the caller already holds."""
    tx.execute("INSERT INTO kv_state (key, value, updated_at) VALUES (?, ?, ?) "
               "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
               "updated_at = excluded.updated_at", (key, encode_json(value), at))


def save_alert_state_tx(tx: sqlite3.Connection, meta: Mapping[str, Any],
                        upserts: Iterable[tuple[str, str, Mapping[str, Any]]],
                        deletes: Iterable[str], at: str) -> None:
    """Write the engine's changed alerts and its metadata inside the caller's transaction.

    ``upserts`` are ``(key, target, data)``; only changed alerts are written, so a flush
    with ten thousand tracked error groups costs what changed, not what exists.
    """
    put_state_tx(tx, ENGINE_STATE_KEY, dict(meta), at)
    tx.executemany("INSERT INTO alert_state (key, target, data) VALUES (?, ?, ?) "
                   "ON CONFLICT (key) DO UPDATE SET data = excluded.data",
                   [(key, target, encode_json(dict(data))) for key, target, data in upserts])
    tx.executemany("DELETE FROM alert_state WHERE key = ?", [(key,) for key in deletes])
