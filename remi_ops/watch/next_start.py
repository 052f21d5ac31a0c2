"""When the supervisor will next try to start a target that is backing off (or has given
up and retries slowly), read from the state it persisted: ``remi-ops status`` shows it, so
"NOT running" comes with "next start in 8s (at 12:03:14), attempt 3 of 5"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from remi_ops.durations import format_duration


@dataclass(frozen=True, slots=True)
class NextStart:
    """The next start attempt the policy has scheduled."""

    at: datetime
    in_s: float  # from the moment of the look; 0 when it is due (or overdue)
    gave_up: bool  # a slow retry after the crash budget ran out
    attempt: int | None = None  # which crash restart within the budget's window
    budget_restarts: int | None = None  # after that many, it gives up

    def words(self) -> str:
        """"backing off: next start in 8s (at 12:03:14), attempt 3 of 5"."""
        when = (f"in {format_duration(self.in_s)} (at {self.at.astimezone():%H:%M:%S})"
                if self.in_s > 0 else "due now")
        if self.gave_up:
            return f"gave up: next slow retry {when}"
        of = f" of {self.budget_restarts}" if self.budget_restarts else ""
        attempt = f", attempt {self.attempt}{of}" if self.attempt else ""
        return f"backing off: next start {when}{attempt}"

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "in_s": round(self.in_s, 1),
                "gave_up": self.gave_up, "attempt": self.attempt,
                "budget_restarts": self.budget_restarts}


def next_start(state: Mapping[str, Any], now: datetime) -> NextStart | None:
    """The scheduled attempt in a persisted supervisor state, or None when none is (a
    state saved by an older watcher, or garbled, has none either)."""
    if state.get("state") not in ("backoff", "gave_up") or not state.get("next_attempt_at"):
        return None
    try:
        at = datetime.fromisoformat(str(state["next_attempt_at"]))
        attempt = int(state["attempt"]) if state.get("attempt") is not None else None
        budget = (int(state["budget_restarts"]) if state.get("budget_restarts") is not None
                  else None)
        in_s = max(0.0, (at - now).total_seconds())
    except (TypeError, ValueError):
        return None
    return NextStart(at, in_s, state["state"] == "gave_up", attempt, budget)
