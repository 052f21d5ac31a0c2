"""Read-only questions the observe step asks of the store (it writes nothing).

Which of this check's error groups are worth a new post — first seen, or back after being
resolved or quiet for a day — is decided here with the same rule the store applies when
the record step writes the occurrences (``is_fresh``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from remi_ops.domain import ErrorGroup
from remi_ops.store.database import Store
from remi_ops.store.records import decode_time, maybe_time

#: an error group back after this long without occurrences is a regression (Sentry's rule)
REGRESSION_QUIET = timedelta(hours=24)
#: SQLite's default limit on host parameters is 999; stay well under it
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class GroupMark:
    """What the store remembers of a group: when it was last seen, and resolved."""

    last_seen: datetime
    resolved_at: datetime | None


def is_fresh(mark: GroupMark | None, group: ErrorGroup) -> bool:
    """New, or a regression: seen after it was resolved, or after a quiet day."""
    if mark is None:
        return True
    if mark.resolved_at is not None and group.last_seen > mark.resolved_at:
        return True
    return group.first_seen - mark.last_seen >= REGRESSION_QUIET


def group_marks(store: Store, target: str,
                fingerprints: Iterable[str]) -> dict[str, GroupMark]:
    """The marks of the named groups that the store knows."""
    wanted = list(dict.fromkeys(fingerprints))
    marks: dict[str, GroupMark] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        placeholders = ", ".join("?" * len(chunk))
        sql = ("SELECT fingerprint, last_seen, resolved_at FROM error_groups "  # noqa: S608 - "?"s only
               f"WHERE target = ? AND fingerprint IN ({placeholders})")
        rows = store.query(sql, [target, *chunk])
        for row in rows:
            marks[row["fingerprint"]] = GroupMark(decode_time(row["last_seen"]),
                                                  maybe_time(row["resolved_at"]))
    return marks


def fresh_groups(store: Store, target: str,
                 groups: Iterable[ErrorGroup]) -> tuple[ErrorGroup, ...]:
    """The groups of this check worth a new post (read-only)."""
    groups = tuple(groups)
    if not groups:
        return ()
    marks = group_marks(store, target, (g.fingerprint for g in groups))
    return tuple(g for g in groups if is_fresh(marks.get(g.fingerprint), g))
