"""State that lets a restarted watcher carry on: log positions, key/value state, and the
alert engine's saved state.

Part of :class:`~remi_ops.store.database.Store`. The ``*_tx`` functions write inside a
transaction the caller already holds, so the outbox saves engine state and notifications
atomically.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from remi_ops.domain import ErrorGroup
from remi_ops.store.connection import StoreConnection
from remi_ops.store.error_group_rows import ErrorGroupRows
from remi_ops.store.records import encode_json

ENGINE_STATE_KEY = "alerts.engine"


class StateRows(StoreConnection):
    """The ``log_positions``, ``kv_state`` and ``alert_state`` tables."""

    def save_position(self, target: str, stream: str, position: Mapping[str, Any]) -> None:
        """Remember where tailing stopped (inode, offset, …) so a restart resumes there."""
        with self.transaction() as tx:
            save_position_tx(tx, target, stream, position, self._at(None))

    def save_reading(self, target: str, groups: Iterable[ErrorGroup],
                     positions: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """Error occurrences and the log positions they were read up to, in one transaction.

        A watcher killed at any moment leaves either both or neither: the next one reads
        again from the saved position exactly the records whose counts are not stored, so
        nothing read is lost and nothing is counted twice. Returns the fingerprints that
        are new or regressed (as ``upsert_error_groups`` does).
        """
        fresh: list[str] = []
        with self.transaction() as tx:
            for group in groups:
                if ErrorGroupRows._upsert_group(tx, target, group):
                    fresh.append(group.fingerprint)
            at = self._at(None)
            for stream, position in positions.items():
                save_position_tx(tx, target, stream, position, at)
        return fresh

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


def save_position_tx(tx: sqlite3.Connection, target: str, stream: str,
                     position: Mapping[str, Any], at: str) -> None:
    """``save_position`` inside a transaction the caller already holds."""
    tx.execute("INSERT INTO log_positions (target, stream, position, updated_at) "
               "VALUES (?, ?, ?, ?) ON CONFLICT (target, stream) DO UPDATE SET "
               "position = excluded.position, updated_at = excluded.updated_at",
               (target, stream, encode_json(dict(position)), at))


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
