"""Helpers for alert engine tests: an engine on a FakeClock and "one check, then flush".

Shared by the engine's lifecycle, silence and saved-state tests, which mirror
``remi_ops.alerts.engine``, ``alerts.silences`` and ``alerts.engine_state``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from remi_ops.alerts.engine import AlertEngine
from remi_ops.alerts.model import AlertKey, Condition, Notification
from remi_ops.clock import FakeClock
from remi_ops.config import AlertSettings
from remi_ops.domain import Severity

T = "remi"
BASE = {"group_wait_s": 30.0, "group_interval_s": 300.0, "keep_firing_for_s": 0.0,
        "for_checks": 1, "flap_changes": 4, "flap_window_s": 900.0}


def cond(kind: str, fp: str = "", *, count: int | None = None, target: str = T,
         severity: Severity = Severity.WARNING, summary: str = "") -> Condition:
    details: dict[str, Any] = {} if count is None else {"count": count}
    return Condition(AlertKey(target, kind, fp), severity, summary or f"{kind} is true", details)


class Harness:
    """An engine, a fake clock and a shorthand for "one check, then flush"."""

    def __init__(self, **overrides: Any) -> None:
        self.clock = FakeClock()
        counter = itertools.count(1)
        self.new_id = lambda: f"id{next(counter)}"
        self.settings = AlertSettings(**{**BASE, **overrides})
        self.engine = AlertEngine(self.settings, new_id=self.new_id)
        self.sent: list[Notification] = []

    def check(self, *conditions: Condition, target: str = T) -> list[Notification]:
        self.engine.observe(self.clock.now(), target, conditions)
        return self.flush()

    def wait(self, seconds: float) -> list[Notification]:
        self.clock.advance(seconds)
        return self.flush()

    def flush(self) -> list[Notification]:
        out = self.engine.flush(self.clock.now())
        self.sent += out
        return out


def summary(notes: Sequence[Notification]) -> list[tuple[str, list[str]]]:
    return [(n.type.value, sorted(str(k).removeprefix(f"{n.target}/") for k in n.keys))
            for n in notes]
