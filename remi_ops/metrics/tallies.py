"""Running totals the store already keeps, read as metrics: restarts by trigger, error
groups and their occurrences.

Both tables only grow (restarts are history; an error group's ``count`` is a running
total that a resolve does not reset), so their sums are honest Prometheus counters that
also survive a watcher restart. Read-only aggregates over indexed columns: cheap enough to
run every few seconds, and only when metrics are on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from remi_ops.store.database import Store


@dataclass(frozen=True, slots=True)
class RestartTally:
    """Restarts recorded for one target, by trigger (first starts are ``start``)."""

    total: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ErrorTally:
    """Error groups not marked fixed, and every occurrence ever counted."""

    open_groups: int = 0
    occurrences: int = 0


def restart_tally(store: Store, target: str) -> RestartTally:
    rows = store.query("SELECT trigger, count(*) AS total, sum(ok = 0) AS failed "
                       "FROM restarts WHERE target = ? GROUP BY trigger", (target,))
    return RestartTally({r["trigger"]: int(r["total"]) for r in rows},
                        {r["trigger"]: int(r["failed"] or 0) for r in rows})


def error_tally(store: Store, target: str) -> ErrorTally:
    [row] = store.query("SELECT coalesce(sum(resolved_at IS NULL), 0) AS open, "
                        "coalesce(sum(count), 0) AS occurrences "
                        "FROM error_groups WHERE target = ?", (target,))
    return ErrorTally(int(row["open"]), int(row["occurrences"]))
