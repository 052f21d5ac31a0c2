"""First lines that differ only in their digits share one search for the signal words
without a digit, and one reading of the rules' patterns but for their digits; the words
with one (40, 429, the close codes) and the seconds are read from each line itself."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from remi_ops.logs import kinds

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
PIECES = st.sampled_from(("4", "0", "2", "9", "40", "29", "1", "7", " ", "x", "\u0663", "é",
                          "timed out", "TIMED OUT", "rate limit", "RESUMED", "code=", "\u0130",
                          "Improper token", "keep up", "ttempting", "\ud800", "track ", ".",
                          "closed with ", "close code: 4014", "responded with 4", "29.",
                          "heartbeat blocked for more than ", " seconds", "s behind",
                          "Can't keep up, shard ID ", " websocket is ", "LoginFailure",
                          "has stopped responding to the gateway", "is ratelimited",
                          "successfully RESUMED", "attempting a reconnect", "TimeoutError"))
LINES = st.lists(st.one_of(PIECES, st.text(max_size=6)), max_size=12).map("".join)


@pytest.fixture(autouse=True)
def empty_memo() -> Iterator[None]:
    kinds._letter_words.clear()
    kinds._line_words.clear()
    kinds._signals_cached.cache_clear()
    yield
    kinds._letter_words.clear()
    kinds._line_words.clear()


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


#: the rules' patterns as they were before their parts with digits were read apart (a copy)
FATAL_BEFORE = re.compile(r"Improper token has been passed|LoginFailure|PrivilegedIntentsRequired"
                          r"|requesting privileged intents|(?:closed with|close code:?|code=)"
                          r"\s*40(?:04|14)\b")
RATE_BEFORE = re.compile(r"We are being rate limited|Global rate limit has been hit"
                         r"|responded with 429|is ratelimited")


def every_rule(first: str) -> kinds._Signals:
    """The rules' findings, every rule read on the line itself (the reference)."""
    blocked = kinds._BLOCKED.search(first)
    behind = kinds._BEHIND.search(first)
    seconds = blocked or behind
    return kinds._Signals(fatal=FATAL_BEFORE.search(first) is not None,
                          hang=blocked is not None or kinds._STOPPED in first,
                          blocked_s=float(seconds[1]) if seconds else None,
                          behind=behind is not None,
                          reconnect=kinds._RECONNECT.search(first) is not None,
                          rate=RATE_BEFORE.search(first) is not None,
                          timeout=kinds._TIMEOUT_TEXT.search(first) is not None,
                          gateway=any(text in first for text, _ in kinds._GATEWAY))


def test_the_patterns_are_the_rules_ones() -> None:
    assert kinds.FATAL.pattern == FATAL_BEFORE.pattern
    assert kinds._RATE.pattern == RATE_BEFORE.pattern


@FAST
@given(LINES, st.lists(st.sampled_from("0123456789"), max_size=5))
@example("We are being rate limited. POST https://discord.com/api/v10/channels/12/messages "
         "responded with 429. Retrying in 1.23 seconds.", ["1", "4", "9"])
@example("Shard ID None heartbeat blocked for more than 12.5 seconds.", ["9", "0"])
@example("Can't keep up, shard ID 3 websocket is 61.2s behind", ["4"])
@example("WebSocket closed with 4004", ["1", "4", "0"])
@example("responded with 419 then 429", ["1", "4"])
def test_signals_of_lines_of_one_key_are_each_line_s_own(line: str, digits: list[str]) -> None:
    """In any order: a line, the same line with other digits, and again; the seconds of a
    hang are each line's own."""
    for variant in [line, *(with_digits(line, d) for d in digits), line]:
        assert kinds._read_signals(variant) == every_rule(variant)
        assert kinds._signals(variant) == every_rule(variant)


def test_a_long_first_line_is_read_but_not_remembered() -> None:
    """Lines past the memo's length are read each time: the memo's size stays bounded."""
    line = "x" * 2000 + " heartbeat blocked for more than 12.5 seconds"
    for _ in range(2):
        assert kinds._signals(line) == every_rule(line)
        assert not kinds.may_signal("y" * 2000)
    assert kinds._letter_words == {}
    assert kinds._line_words == {}
