"""The outbox's SQL: rows per (notification, sink), sink references, and their states.

Blocking calls; the outbox runs them through ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from remi_ops.alerts.model import EngineDelta, Notification
from remi_ops.store.database import Store
from remi_ops.store.event_journal_rows import forget_tx
from remi_ops.store.records import encode_json, encode_time
from remi_ops.store.state_rows import save_alert_state_tx


@dataclass(frozen=True, slots=True)
class Row:
    """One undelivered notification for one sink."""

    id: int
    notification_id: str
    message_key: str
    payload: str
    attempts: int


class OutboxRows:
    """Typed access to the ``outbox`` and ``sink_refs`` tables."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def insert(self, notifications: Sequence[Notification], sinks: Sequence[str],
               state: EngineDelta | None, now: datetime, journal_ids: Sequence[int] = ()) -> int:
        """Rows for every sink plus the engine's state, atomically; repeats are ignored.
        The event-journal rows the engine took (``journal_ids``) go in the same breath."""
        at = encode_time(now)
        rows = [(n.id, sink, n.message_key, encode_json(n.to_dict()), at)
                for n in notifications for sink in sinks]
        with self.store.transaction() as tx:
            before = tx.total_changes
            tx.executemany("INSERT OR IGNORE INTO outbox (notification_id, sink, message_key, "
                           "payload, created_at) VALUES (?, ?, ?, ?, ?)", rows)
            inserted = tx.total_changes - before
            if state is not None:
                save_alert_state_tx(tx, state.meta, state.upserts, state.deletes, at)
            forget_tx(tx, journal_ids)
        return inserted

    def pending(self, sink: str, after_id: int = 0, limit: int = 500) -> list[Row]:
        """Undelivered rows of ``sink`` after ``after_id``, oldest first (one page)."""
        rows = self.store.query(
            "SELECT id, notification_id, message_key, payload, attempts FROM outbox "
            "WHERE sink = ? AND state = 'pending' AND id > ? ORDER BY id LIMIT ?",
            (sink, after_id, limit))
        return [Row(r["id"], r["notification_id"], r["message_key"], r["payload"],
                    r["attempts"]) for r in rows]

    def ref(self, sink: str, message_key: str) -> str | None:
        rows = self.store.query("SELECT ref FROM sink_refs WHERE sink = ? AND message_key = ?",
                                (sink, message_key))
        return rows[0][0] if rows else None

    def delivered(self, row: Row, sink: str, ref: str | None, now: datetime) -> bool:
        """Mark delivered exactly once and remember the sink's reference for later edits."""
        at = encode_time(now)
        with self.store.transaction() as tx:
            cur = tx.execute("UPDATE outbox SET state = 'delivered', delivered_at = ?, ref = ?, "
                             "attempts = attempts + 1 WHERE id = ? AND state = 'pending'",
                             (at, ref, row.id))
            if cur.rowcount != 1:
                return False
            if ref is not None:
                tx.execute("INSERT INTO sink_refs (sink, message_key, ref, updated_at) "
                           "VALUES (?, ?, ?, ?) ON CONFLICT (sink, message_key) DO UPDATE SET "
                           "ref = excluded.ref, updated_at = excluded.updated_at",
                           (sink, row.message_key, ref, at))
        return True

    def failed(self, row_id: int, error: str, *, dead: bool) -> None:
        with self.store.transaction() as tx:
            tx.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, "
                       "state = CASE WHEN ? THEN 'dead' ELSE state END "
                       "WHERE id = ? AND state = 'pending'", (error[:500], dead, row_id))

    def backlog(self, sinks: Sequence[str]) -> dict[str, int]:
        counts = dict.fromkeys(sinks, 0)
        for row in self.store.query("SELECT sink, count(*) AS n FROM outbox "
                                    "WHERE state = 'pending' GROUP BY sink"):
            if row["sink"] in counts:
                counts[row["sink"]] = row["n"]
        return counts

    def prune(self, before: datetime) -> int:
        """Forget delivered and dead rows created before ``before``."""
        with self.store.transaction() as tx:
            return tx.execute("DELETE FROM outbox WHERE state != 'pending' AND created_at < ?",
                              (encode_time(before),)).rowcount
