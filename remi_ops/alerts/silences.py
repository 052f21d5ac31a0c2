"""Silences: operator-set mutes on alert labels that always expire.

A silence is validated once, when it is created (known labels, a bounded duration, who set
it), so the engine only ever asks two questions of the book: does anything mute this key
now, and until when. Expired silences stay listable for a day, then go.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from remi_ops.alerts.model import LABELS, AlertKey, Silence

SILENCE_KEEP = timedelta(days=1)  # expired silences stay listable this long


class Silences:
    """The engine's silences by id; not thread-safe on its own (the engine locks)."""

    def __init__(self, new_id: Callable[[], str]) -> None:
        self._new_id = new_id
        self._by_id: dict[str, Silence] = {}

    def create(self, now: datetime, matchers: Mapping[str, str], duration_s: float,
               created_by: str, comment: str, *, max_s: float) -> Silence:
        """A new silence from ``now`` for ``duration_s``; ``ValueError`` if it is malformed."""
        if not matchers:
            raise ValueError("a silence needs at least one matcher")
        unknown = sorted(set(matchers) - set(LABELS))
        if unknown:
            raise ValueError(f"unknown matcher labels {unknown}; use {', '.join(LABELS)}")
        if not 0 < duration_s <= max_s:
            raise ValueError(f"silence duration must be within (0, "
                             f"{max_s:g}] seconds, got {duration_s:g}")
        if not created_by.strip():
            raise ValueError("a silence needs created_by")
        silence = Silence(id=self._new_id(), matchers=tuple(sorted(matchers.items())),
                          starts_at=now, ends_at=now + timedelta(seconds=duration_s),
                          created_by=created_by, comment=comment)
        self._by_id[silence.id] = silence
        return silence

    def expire(self, now: datetime, silence_id: str) -> Silence:
        """End a silence now (``KeyError`` if unknown)."""
        silence = self._by_id[silence_id]
        silence = replace(silence, ends_at=min(silence.ends_at, now))
        self._by_id[silence_id] = silence
        return silence

    def in_force(self, now: datetime) -> list[Silence]:
        """Silences in force at ``now``, soonest to end first."""
        return sorted((s for s in self._by_id.values() if s.active(now)),
                      key=lambda s: s.ends_at)

    def until(self, key: AlertKey, now: datetime) -> datetime | None:
        """When the last silence muting ``key`` at ``now`` ends, or None if none does."""
        if not self._by_id:
            return None
        ends = [s.ends_at for s in self._by_id.values() if s.active(now) and s.matches(key)]
        return max(ends) if ends else None

    def mutes(self, key: AlertKey, now: datetime) -> bool:
        """Whether any silence in force at ``now`` matches ``key``."""
        return any(s.active(now) and s.matches(key) for s in self._by_id.values())

    def prune(self, now: datetime) -> None:
        """Forget silences that ended more than ``SILENCE_KEEP`` ago."""
        self._by_id = {k: s for k, s in self._by_id.items() if now - s.ends_at < SILENCE_KEEP}

    def to_list(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self._by_id.values()]

    def load(self, items: Iterable[Mapping[str, Any]]) -> None:
        """Replace the book with saved silences (``to_list`` output)."""
        self._by_id = {s["id"]: Silence.from_dict(s) for s in items}
