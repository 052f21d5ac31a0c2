"""Looking up one error group by its fingerprint (``Store.error_groups`` lists them).

Kept beside ``database`` rather than in it: it only reads through ``Store.query``.
"""

from __future__ import annotations

from remi_ops.domain import ErrorGroup
from remi_ops.store.database import Store
from remi_ops.store.records import group_from_row


def error_group(store: Store, target: str, fingerprint: str) -> ErrorGroup | None:
    """The group ``fingerprint`` of ``target`` with its running totals, or None."""
    rows = store.query("SELECT * FROM error_groups WHERE target = ? AND fingerprint = ?",
                       (target, fingerprint))
    return group_from_row(rows[0]) if rows else None
