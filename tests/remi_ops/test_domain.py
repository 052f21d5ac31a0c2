"""The vocabularies order themselves: the worst status, the loudest severity."""

from __future__ import annotations

import pytest

from remi_ops.domain import Severity, Status


def test_statuses_order_mildest_first() -> None:
    assert Status.HEALTHY < Status.DEGRADED < Status.DOWN
    assert max([Status.DEGRADED, Status.DOWN, Status.HEALTHY]) is Status.DOWN


def test_severities_order_quietest_first() -> None:
    assert sorted([Severity.PAGE, Severity.INFO, Severity.WARNING]) == [
        Severity.INFO, Severity.WARNING, Severity.PAGE]
    assert Severity.PAGE >= Severity.WARNING > Severity.INFO


@pytest.mark.parametrize(("found", "expected"), [
    ([], Status.HEALTHY),
    ([Status.DEGRADED], Status.DEGRADED),
    ([Status.DEGRADED, Status.DOWN, Status.HEALTHY], Status.DOWN),
])
def test_worst_of_none_is_the_default(found: list[Status], expected: Status) -> None:
    assert Status.worst(found, Status.HEALTHY) is expected


def test_a_status_is_not_ordered_against_a_severity() -> None:
    """Two vocabularies never compare by accident (their words would sort as text)."""
    with pytest.raises(TypeError):
        _ = Status.DOWN < Severity.PAGE
