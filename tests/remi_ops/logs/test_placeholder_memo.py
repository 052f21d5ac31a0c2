"""The memo of message placeholders: texts that differ only in their digits 1-9 share one
search, and only when no digit is left outside a value (the result would differ)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from remi_ops.domain import LogKind
from remi_ops.logs import placeholders
from remi_ops.logs.tracebacks import fingerprint, normalize_message

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                HealthCheck.function_scoped_fixture])

TEXT = st.lists(st.sampled_from(
    [*"ab0129fF.:-'\" xX@/T_+eéZ٣\tgtr5", "True", "://", "ms", "0x1f", "12:30:45", "Tx",
     "_1", "track", "a.b", "1.2.3.4", "abc123", "\ud800", "sha1", "<int>"]),
    max_size=30).map("".join)
_DIGITS = "123456789"


@pytest.fixture(autouse=True)
def empty_memo() -> Iterator[None]:
    placeholders._memo.clear()
    yield
    placeholders._memo.clear()


def name(m: re.Match[str]) -> str:
    return f"<{m.lastgroup}>"


def variants(text: str, shift: int) -> str:
    """``text`` with each digit 1-9 moved ``shift`` places on (within 1-9)."""
    return "".join(_DIGITS[(_DIGITS.index(c) + shift) % 9] if c in _DIGITS else c
                   for c in text)


@FAST
@given(TEXT, st.lists(st.integers(0, 8), min_size=1, max_size=6))
@example("Scan of track 1234567890 failed: no stream URL", [0, 3, 0, 5])
@example("id abc123 of 45", [0, 0, 1, 2])  # digits left in a word: the result varies
@example("hash <sha2> 5", [0, 0, 0, 7])
@example("0x1f and 1x1f", [0, 0, 4])
def test_the_memo_gives_what_the_regex_gives(text: str, shifts: list[int]) -> None:
    """Whatever the order texts of one key arrive in (seen once, read, then looked up),
    each gets the regex's own result."""
    for shift in [0, *shifts, *shifts]:
        variant = variants(text, shift)
        assert placeholders.replace_values(variant) == placeholders.search_values(variant)


def test_a_digit_left_outside_every_value_is_never_shared() -> None:
    """``abc123`` is no value (no word boundary before the digits): its digits stay, so
    texts of one key must not share a result."""
    for _ in range(3):
        assert placeholders.replace_values("id abc123 of 45") == "id abc123 of <int>"
        assert placeholders.replace_values("id abc987 of 12") == "id abc987 of <int>"
    assert placeholders._memo[b"id abc111 of 11"] is True


def test_a_repeated_message_is_read_from_the_memo() -> None:
    """The third text of a key is answered from the memo (not searched again)."""
    for tid in (1234567891, 9876543219):
        placeholders.replace_values(f"Scan of track {tid} failed")
    assert placeholders._memo[b"Scan of track 1111111111 failed"] == "Scan of track <int> failed"


def digest(parts: list[str]) -> str:
    """The fingerprint's digest as it is computed without the memo (the reference)."""
    return hashlib.sha1("\n".join(parts).encode("utf-8", "replace"),
                        usedforsecurity=False).hexdigest()[:16]


@pytest.mark.parametrize("kind", [LogKind.ERROR, LogKind.HANG, LogKind.TIMEOUT])
@pytest.mark.parametrize("logger", ["remi.scan", ""])
def test_a_message_fingerprint_is_the_digest_of_logger_and_message(kind: LogKind,
                                                                   logger: str) -> None:
    message = "Scan of track 1234567890 failed: no stream URL"
    parts = [logger or "-", normalize_message(message)]
    expected = digest(["hang", *parts] if kind is LogKind.HANG else parts)
    for _ in range(2):
        assert fingerprint(kind, logger, message) == expected
