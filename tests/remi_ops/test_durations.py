"""One way to read durations people type, one way to show them."""

from __future__ import annotations

import pytest

from remi_ops.durations import format_duration, parse_duration


@pytest.mark.parametrize(("seconds", "shown"), [
    (None, "–"), (0.04, "0.0s"), (4.24, "4.2s"), (42.4, "42s"), (252, "4m 12s"),
    (840, "14m 00s"), (3840, "1h 04m"), (2 * 86400 + 5 * 3600, "2d 05h"),
])
def test_format(seconds: float | None, shown: str) -> None:
    assert format_duration(seconds) == shown


@pytest.mark.parametrize("text", ["", "soon", "5 m", "-1h", "1y"])
def test_parse_refuses_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_what_is_shown_reads_back() -> None:
    assert parse_duration("1w") == 7 * parse_duration("1d") == 7 * 86400
