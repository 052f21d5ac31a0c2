"""First lines that differ only in their digits share one search for the signal words
without a digit; the words with one (40, 429) are looked for in each line itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from remi_ops.logs import kinds

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
PIECES = st.sampled_from(("4", "0", "2", "9", "40", "29", "1", "7", " ", "x", "\u0663", "é",
                          "timed out", "TIMED OUT", "rate limit", "RESUMED", "code=", "\u0130",
                          "Improper token", "keep up", "ttempting", "\ud800", "track "))
LINES = st.lists(st.one_of(PIECES, st.text(max_size=6)), max_size=12).map("".join)


@pytest.fixture(autouse=True)
def empty_memo() -> Iterator[None]:
    kinds._letter_words.clear()
    yield
    kinds._letter_words.clear()


def with_digits(line: str, digit: str) -> str:
    """``line`` with every ASCII digit made ``digit``: another line of the same key."""
    return "".join(digit if "0" <= c <= "9" else c for c in line)


@FAST
@given(LINES, st.lists(st.sampled_from("0123456789"), max_size=5))
@example("Scoring failed for track 123456789", ["4", "0", "1"])
@example("code 4014 then 1111", ["0", "4"])
@example("HTTP 429 Too Many", ["1", "4"])
def test_the_memo_answers_what_the_words_answer(line: str, digits: list[str]) -> None:
    """In any order: a line, the same line with other digits, and again."""
    for variant in [line, *(with_digits(line, d) for d in digits), line]:
        assert kinds.may_signal(variant) == kinds.has_signal_word(variant)


def test_a_line_with_40_is_read_whatever_the_memo_says() -> None:
    assert not kinds.may_signal("closed with 1111")
    assert kinds.may_signal("closed with 4004")
    assert kinds._signals("closed with 4004").fatal


def test_lines_that_differ_in_their_digits_share_one_entry() -> None:
    for tid in (123, 567, 889):
        assert not kinds.may_signal(f"Scoring failed for track {tid}")
    assert list(kinds._letter_words) == [b"Scoring failed for track 111"]
