"""The event journal: notified events, kept in SQLite until the outbox has taken them.

A restart (or a stop, a scan result, a person's action) is written with the event that
announces it in one transaction (``journal_tx``). The outbox reads the journal when it
commits, hands the events to the alert engine, and deletes them in the very transaction
that writes the engine's notifications (``forget_tx``). A watcher killed anywhere in
between leaves either the journal row or the outbox row behind, never neither and never
both: the next watcher announces it exactly once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from remi_ops.store.connection import StoreConnection
from remi_ops.store.records import decode_time, encode_json, encode_time


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One event waiting for the alert engine (``details`` already plain JSON data)."""

    target: str
    at: datetime
    kind: str
    severity: str
    summary: str
    details: dict[str, Any]
    id: int = 0


def journal_tx(tx: sqlite3.Connection, entries: Iterable[JournalEntry]) -> None:
    """Write ``entries`` inside the caller's transaction (the one writing their records)."""
    tx.executemany(
        "INSERT INTO event_journal (target, at, kind, severity, summary, details) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(e.target, encode_time(e.at), e.kind, e.severity, e.summary, encode_json(e.details))
         for e in entries])


def journaled(store: StoreConnection, limit: int = 500) -> list[JournalEntry]:
    """Events not yet handed to the alert engine, oldest first."""
    rows = store.query("SELECT * FROM event_journal ORDER BY id LIMIT ?", (limit,))
    return [JournalEntry(r["target"], decode_time(r["at"]), r["kind"], r["severity"],
                         r["summary"], json.loads(r["details"]), r["id"]) for r in rows]


def forget_tx(tx: sqlite3.Connection, ids: Sequence[int]) -> None:
    """Drop entries the engine has taken, inside the transaction saving what it made of them."""
    tx.executemany("DELETE FROM event_journal WHERE id = ?", [(i,) for i in ids])
