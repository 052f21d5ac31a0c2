"""Error group rows: running totals, resolutions and regressions, on a real file."""

from __future__ import annotations

from datetime import timedelta

import pytest

from remi_ops.clock import FakeClock
from remi_ops.domain import ErrorGroup, LogKind
from remi_ops.logs.redact import redact_patterns
from remi_ops.store.database import Store


def group(fp: str, clock: FakeClock, count: int = 1, ago_s: float = 0) -> ErrorGroup:
    at = clock.now() - timedelta(seconds=ago_s)
    return ErrorGroup(fp, "remi", redact_patterns(f"NameError {fp}"), LogKind.CRASH, count, at,
                      at, redact_patterns("tb"))


ERROR_GROUP_CASES = [
    # (previous occurrence s ago or None, resolved before?, expected new-or-regressed)
    (None, False, True),  # first seen
    (60, False, False),  # repeat within the day: count only
    (86400, False, True),  # quiet 24 h: regression
    (60, True, True),  # seen after being resolved: regression
]


@pytest.mark.parametrize(("previous_ago", "resolved", "expected"), ERROR_GROUP_CASES)
def test_error_group_new_or_regressed(store: Store, clock: FakeClock, previous_ago: float | None,
                                      resolved: bool, expected: bool) -> None:
    if previous_ago is not None:
        store.upsert_error_groups("remi", [group("fp", clock, 2, previous_ago)])
        if resolved:
            assert store.resolve_error_group("remi", "fp", clock.now() - timedelta(seconds=30))
    assert (store.upsert_error_groups("remi", [group("fp", clock, 3)]) == ["fp"]) is expected
    (g,) = store.error_groups("remi")
    assert g.count == (5 if previous_ago is not None else 3) and g.resolved_at is None


@pytest.mark.parametrize(("previous_ago", "resolved", "expected"), ERROR_GROUP_CASES)
def test_fresh_groups_asks_the_same_question_without_writing(
        store: Store, clock: FakeClock, previous_ago: float | None, resolved: bool,
        expected: bool) -> None:
    """The observe step's read-only question agrees with what the write will decide."""
    if previous_ago is not None:
        store.upsert_error_groups("remi", [group("fp", clock, 2, previous_ago)])
        if resolved:
            assert store.resolve_error_group("remi", "fp", clock.now() - timedelta(seconds=30))
    before = store.error_groups("remi")
    fresh = store.fresh_groups("remi", [group("fp", clock, 3)])
    assert (fresh != ()) is expected
    assert store.error_groups("remi") == before


def test_error_groups_newest_first_with_limit(store: Store, clock: FakeClock) -> None:
    store.upsert_error_groups("remi", [group(f"fp{i}", clock, ago_s=100 - i) for i in range(5)])
    assert [g.fingerprint for g in store.error_groups("remi", limit=3)] == ["fp4", "fp3", "fp2"]
    since = clock.now() - timedelta(seconds=97)
    assert [g.fingerprint for g in store.error_groups("remi", since)] == ["fp4", "fp3"]
