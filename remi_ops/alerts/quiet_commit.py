"""A commit of the alert engine that would change nothing in the store writes nothing.

The hub commits whenever a check hands it its conditions (at most once a second); on a
quiet host every such commit flushed nothing and saved only the engine's metadata
(``kv_state``) as it already stood. That transaction was not free in itself, and it
moved SQLite's ``-wal`` file, which every target's change token
(``store.change_token.OutsideVersion``) takes as a sign that another process may have
written: so each second the watcher asked ``PRAGMA data_version`` again for nothing.

A commit is skipped only when there is nothing at all to write: no notification (none
fresh, none left from a failed commit), no journal row taken, no alert or group changed,
and the metadata equal to what the last successful commit wrote. A failed commit
remembers nothing, so the next one writes again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from remi_ops.alerts.model import EngineDelta, Notification


def nothing_to_write(batch: Sequence[Notification], delta: EngineDelta,
                     journal_ids: Sequence[int], saved_meta: Mapping[str, Any] | None) -> bool:
    """True when committing would leave the store exactly as it is."""
    return (not batch and not journal_ids and not delta.upserts and not delta.deletes
            and saved_meta is not None and delta.meta == saved_meta)
