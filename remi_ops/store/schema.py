"""The store's schema as an ordered list of forward migrations.

Each step moves the schema one version up and runs in its own transaction, so a crash
mid-upgrade leaves the file at the previous version rather than half-migrated. Steps are
never edited once released: a change is a new step at the end. Times are stored as
fixed-width ISO-8601 UTC text, so they sort and compare as strings and stay readable in
the ``sqlite3`` shell.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

Step = tuple[str, ...]

#: version 1: the original watchdog history (incidents, transitions, restarts, groups, scans,
#: audit, log positions, key/value state).
_V1: Step = (
    """CREATE TABLE incidents (
        id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, opened_at TEXT NOT NULL,
        closed_at TEXT, title TEXT NOT NULL, severity TEXT NOT NULL, summary TEXT NOT NULL)""",
    "CREATE INDEX incidents_opened ON incidents (opened_at)",
    """CREATE TABLE transitions (
        id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, at TEXT NOT NULL,
        from_state TEXT NOT NULL, to_state TEXT NOT NULL, reason TEXT NOT NULL)""",
    "CREATE INDEX transitions_target_at ON transitions (target, at)",
    """CREATE TABLE restarts (
        id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, at TEXT NOT NULL,
        reason TEXT NOT NULL, trigger TEXT NOT NULL, requested_by TEXT NOT NULL,
        ok INTEGER NOT NULL, duration_s REAL NOT NULL, old_pid INTEGER, new_pid INTEGER,
        detail TEXT NOT NULL)""",
    "CREATE INDEX restarts_target_at ON restarts (target, at)",
    """CREATE TABLE error_groups (
        target TEXT NOT NULL, fingerprint TEXT NOT NULL, title TEXT NOT NULL,
        kind TEXT NOT NULL, count INTEGER NOT NULL, first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL, sample TEXT NOT NULL, culprit TEXT NOT NULL,
        PRIMARY KEY (target, fingerprint))""",
    """CREATE TABLE scans (
        id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, started_at TEXT NOT NULL,
        outcome TEXT NOT NULL, duration_s REAL NOT NULL, exit_code INTEGER,
        output TEXT NOT NULL, reason TEXT NOT NULL, fingerprint TEXT NOT NULL,
        over_budget INTEGER NOT NULL, commit_sha TEXT NOT NULL)""",
    "CREATE INDEX scans_target_at ON scans (target, started_at)",
    """CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL,
        action TEXT NOT NULL, target TEXT NOT NULL, arguments TEXT NOT NULL,
        result TEXT NOT NULL, ok INTEGER NOT NULL, duration_s REAL NOT NULL)""",
    "CREATE INDEX audit_at ON audit (at)",
    """CREATE TABLE log_positions (
        target TEXT NOT NULL, stream TEXT NOT NULL, position TEXT NOT NULL,
        updated_at TEXT NOT NULL, PRIMARY KEY (target, stream))""",
    """CREATE TABLE kv_state (
        key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL)""",
)

#: version 2: error groups can be resolved (regression detection), restarts keep evidence.
_V2: Step = (
    "ALTER TABLE error_groups ADD COLUMN resolved_at TEXT",
    "CREATE INDEX error_groups_last_seen ON error_groups (target, last_seen)",
    "ALTER TABLE restarts ADD COLUMN evidence TEXT NOT NULL DEFAULT ''",
)

#: version 3: durable alert-engine state and the delivery outbox.
_V3: Step = (
    """CREATE TABLE alert_state (
        key TEXT PRIMARY KEY, target TEXT NOT NULL, data TEXT NOT NULL)""",
    """CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT, notification_id TEXT NOT NULL,
        sink TEXT NOT NULL, message_key TEXT NOT NULL, payload TEXT NOT NULL,
        created_at TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
        delivered_at TEXT, ref TEXT, UNIQUE (notification_id, sink))""",
    "CREATE INDEX outbox_due ON outbox (sink, state, id)",
    """CREATE TABLE sink_refs (
        sink TEXT NOT NULL, message_key TEXT NOT NULL, ref TEXT NOT NULL,
        updated_at TEXT NOT NULL, PRIMARY KEY (sink, message_key))""",
)

#: version 4: audit first (a row is "requested" before the action, then completed; the
#: spool request it answers), and the event journal: notified events written in the same
#: transaction as the records they announce, until the outbox has taken them.
_V4: Step = (
    "ALTER TABLE audit ADD COLUMN state TEXT NOT NULL DEFAULT 'done'",
    "ALTER TABLE audit ADD COLUMN request_id TEXT NOT NULL DEFAULT ''",
    "CREATE INDEX audit_request ON audit (request_id)",
    """CREATE TABLE event_journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, at TEXT NOT NULL,
        kind TEXT NOT NULL, severity TEXT NOT NULL, summary TEXT NOT NULL,
        details TEXT NOT NULL)""",
)

#: version 5: Alertmanager groups (one Discord message per ``groupKey``, each alert's last
#: status by fingerprint) and the webhook payloads refused as malformed, kept for inspection.
_V5: Step = (
    """CREATE TABLE alertmanager_groups (
        group_id TEXT PRIMARY KEY, group_key TEXT NOT NULL, payload TEXT NOT NULL,
        updated_at TEXT NOT NULL)""",
    """CREATE TABLE alertmanager_rejected (
        id INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT NOT NULL,
        reason TEXT NOT NULL, body TEXT NOT NULL)""",
)

MIGRATIONS: Sequence[Step] = (_V1, _V2, _V3, _V4, _V5)
LATEST = len(MIGRATIONS)


class NewerSchema(Exception):
    """The file was written by a newer version of the code."""

    def __init__(self, found: int) -> None:
        self.found = found
        super().__init__(found)


def current_version(conn: sqlite3.Connection) -> int:
    """The file's schema version; 0 for a new, empty database."""
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if not has_table:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, steps: Sequence[Step] = MIGRATIONS) -> int:
    """Bring the schema up to ``len(steps)``; returns the version reached.

    Raises ``NewerSchema`` instead of guessing when the file is ahead of the code: an old
    binary writing into a newer schema is how data gets lost silently. Several processes
    may open a new file at once (the watcher, ``remi-ops status``): each step re-reads the
    version under the write lock, so a step another process already applied is skipped.
    """
    version = current_version(conn)
    while version < len(steps):
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = current_version(conn)
            if version < len(steps):
                _apply(conn, steps[version], version + 1)
                version += 1
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    if version > len(steps):
        raise NewerSchema(version)
    return len(steps)


def _apply(conn: sqlite3.Connection, step: Step, number: int) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    for statement in step:
        conn.execute(statement)
    conn.execute("DELETE FROM schema_version")
    conn.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
