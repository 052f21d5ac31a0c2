"""A target's ``Standing`` kept between checks while the store has not changed.

``standing_of`` is two queries (recent error groups, firing alerts), each a read
transaction with its ``fcntl`` locks; at 200 targets that was 10–15 % of an idle
watcher's samples, for an answer that moves only when a row does. This keeps the rows
read last with the store's ``change_token`` then, and reads again when the token moved
(this process wrote an error group or an alert, or another process committed anything).

The window of recent groups slides with time without a write: the rows kept are those
seen since the window's start *then*, newest first, at most ``MAX_RECENT_GROUPS``; for a
later start the answer is the kept rows seen since it — the same rows a fresh query
would return (any row not kept is older than every kept one). A start earlier than the
kept one (a clock moved back) reads again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from remi_ops.checks.standing import (
    MAX_RECENT_GROUPS,
    FiringAlert,
    Standing,
    firing_alerts,
    recent_since,
)
from remi_ops.domain import ErrorGroup, ProcessSnapshot
from remi_ops.store.database import Store


@dataclass
class _Kept:
    token: tuple[int, int]
    since: datetime
    groups: list[ErrorGroup]
    firing: tuple[FiringAlert, ...]


@dataclass
class StandingCache:
    """One target's standing, read again only when the store may have changed."""

    _kept: _Kept | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def read(self, store: Store, target: str, now: datetime, recent_errors_s: float,
             process: ProcessSnapshot | None, *, outside: int | None = None) -> Standing:
        """``standing_of``'s answer; blocking (SQLite) when it must read.

        ``outside``: the store's ``outside_version`` as the caller took it just before
        (shared with its other cached reads), else asked here."""
        since = recent_since(now, recent_errors_s, process)
        with self._lock:
            # taken before the reads: a write during them moves the next one
            token = store.change_token("error_groups", "alert_state", outside=outside)
            kept = self._kept
            if kept is None or kept.token != token or since < kept.since:
                kept = _Kept(token, since, store.error_groups(target, since, MAX_RECENT_GROUPS),
                             firing_alerts(store, target))
                self._kept = kept
        groups = tuple(g for g in kept.groups if g.last_seen >= since
                       and (g.resolved_at is None or g.resolved_at < g.last_seen))
        return Standing(groups, kept.firing)
