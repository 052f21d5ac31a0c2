"""Error groups as rows: running totals per fingerprint, resolutions and regressions.

Part of :class:`~remi_ops.store.database.Store`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from remi_ops.domain import ErrorGroup
from remi_ops.store.connection import StoreConnection
from remi_ops.store.records import decode_time, encode_time, group_from_row, maybe_time

#: an error group seen again after this much quiet counts as a regression (posted anew)
REGRESSION_QUIET = timedelta(hours=24)
#: SQLite's default limit on host parameters is 999; stay well under it
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class GroupMark:
    """What the store remembers of a group: when it was last seen, and resolved."""

    last_seen: datetime
    resolved_at: datetime | None


def is_fresh(mark: GroupMark | None, group: ErrorGroup) -> bool:
    """New, or a regression: seen after it was resolved, or after a quiet day (Sentry's
    rule). The one rule for the observe step's question and the record step's write."""
    if mark is None:
        return True
    if mark.resolved_at is not None and group.last_seen > mark.resolved_at:
        return True
    return group.first_seen - mark.last_seen >= REGRESSION_QUIET


class ErrorGroupRows(StoreConnection):
    """The ``error_groups`` table."""

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
        regressed = is_fresh(GroupMark(decode_time(row["last_seen"]), maybe_time(resolved)),
                             group)
        tx.execute("UPDATE error_groups SET title = ?, kind = ?, count = count + ?, "
                   "first_seen = min(first_seen, ?), last_seen = max(last_seen, ?), sample = ?, "
                   "culprit = ?, resolved_at = CASE WHEN ? THEN NULL ELSE resolved_at END "
                   "WHERE target = ? AND fingerprint = ?",
                   (group.title, group.kind.value, group.count, first, last, group.sample,
                    group.culprit, regressed or resolved is None, target, group.fingerprint))
        return regressed

    def fresh_groups(self, target: str, groups: Iterable[ErrorGroup]) -> tuple[ErrorGroup, ...]:
        """Which of these groups are worth a new post — read-only (the observe step asks
        before the record step writes the occurrences)."""
        groups = tuple(groups)
        marks: dict[str, GroupMark] = {}
        wanted = list(dict.fromkeys(g.fingerprint for g in groups))
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            placeholders = ", ".join("?" * len(chunk))
            sql = ("SELECT fingerprint, last_seen, resolved_at FROM error_groups "  # noqa: S608 - "?"s only
                   f"WHERE target = ? AND fingerprint IN ({placeholders})")
            for row in self.query(sql, [target, *chunk]):
                marks[row["fingerprint"]] = GroupMark(decode_time(row["last_seen"]),
                                                      maybe_time(row["resolved_at"]))
        return tuple(g for g in groups if is_fresh(marks.get(g.fingerprint), g))

    def error_group(self, target: str, fingerprint: str) -> ErrorGroup | None:
        """The group ``fingerprint`` of ``target`` with its running totals, or None."""
        rows = self.query("SELECT * FROM error_groups WHERE target = ? AND fingerprint = ?",
                          (target, fingerprint))
        return group_from_row(rows[0]) if rows else None

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
