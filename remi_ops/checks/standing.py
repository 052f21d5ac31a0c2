"""What still stands against a target between checks: its recent errors, its firing alerts.

A check reads only the log lines since the previous one, so a NameError logged a minute ago
is gone from the next check's records while its alert is still in #quick-tasks; ``health``
must not say "healthy" then. This reads what the store remembers: error groups seen within
``health.recent_errors_s`` by the *current* process, and the alerts the engine persisted as
firing whose condition a check cannot see again by itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from remi_ops.domain import ErrorGroup, ProcessSnapshot
from remi_ops.store.database import Store

#: alert kinds every check re-assesses from the process, its logs and its beacon: a resolved
#: hang kept firing for ``keep_firing_for_s`` says nothing about the process now
LIVE_KINDS = frozenset({"down", "hang", "unhealthy", "fatal_config", "duplicate",
                        "scan_test", "watcher"})
#: occurrence kinds fire until a day without a repeat; recent errors stand for them (two:
#: the query in ``firing_alerts`` has a placeholder for each)
OCCURRENCE_KINDS = ("error_group", "job_error")
MAX_RECENT_GROUPS = 20


@dataclass(frozen=True, slots=True)
class FiringAlert:
    """An alert the engine holds as firing for this target."""

    kind: str
    summary: str


@dataclass(frozen=True, slots=True)
class Standing:
    recent_groups: tuple[ErrorGroup, ...] = ()
    firing: tuple[FiringAlert, ...] = ()


def standing_of(store: Store, target: str, now: datetime, recent_errors_s: float,
                process: ProcessSnapshot | None) -> Standing:
    """Blocking (SQLite): the watch calls it from its worker thread."""
    return Standing(recent_groups(store, target, now, recent_errors_s, process),
                    firing_alerts(store, target))


def recent_groups(store: Store, target: str, now: datetime, recent_errors_s: float,
                  process: ProcessSnapshot | None) -> tuple[ErrorGroup, ...]:
    """Groups seen within the window, by this process, and not marked fixed since."""
    since = recent_since(now, recent_errors_s, process)
    return tuple(g for g in store.error_groups(target, since, MAX_RECENT_GROUPS)
                 if g.resolved_at is None or g.resolved_at < g.last_seen)


def recent_since(now: datetime, recent_errors_s: float,
                 process: ProcessSnapshot | None) -> datetime:
    """Where the window of recent errors starts: ``recent_errors_s`` ago, or when the
    process started if later (errors from before it are not its own)."""
    since = now - timedelta(seconds=recent_errors_s)
    if process is not None:
        since = max(since, datetime.fromtimestamp(process.identity.create_time, UTC))
    return since


def firing_alerts(store: Store, target: str) -> tuple[FiringAlert, ...]:
    """Firing alerts of ``target`` that no check re-assesses (``gave_up``, …), while their
    condition holds: one kept firing only to avoid a false "resolved" (``keep_firing_for``)
    is over (found using the CLI: a restart after gave up read "degraded" for 2 minutes)."""
    # occurrence alerts (one per error group: there may be thousands) are skipped unread
    rows = store.query("SELECT data FROM alert_state WHERE target = ? AND key NOT LIKE ? "
                       "AND key NOT LIKE ?", (target, *(f"{target}/{kind}/%"
                                                        for kind in OCCURRENCE_KINDS)))
    found: list[FiringAlert] = []
    for row in rows:
        alert = _decoded(row[0])
        kind = str(alert.get("key", "")).split("/", 2)[1:2]
        if (alert.get("phase") == "firing" and alert.get("raw", True) and kind
                and kind[0] not in LIVE_KINDS and kind[0] not in OCCURRENCE_KINDS):
            found.append(FiringAlert(kind[0], str(alert.get("summary", ""))))
    return tuple(found)


def _decoded(data: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}
