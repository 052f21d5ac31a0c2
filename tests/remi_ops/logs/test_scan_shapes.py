"""The body cache keyed by shape: exception messages blanked, the parse unchanged."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from remi_ops.logs.bodies import RecordBody
from remi_ops.logs.body_shapes import BodyShapes, mask
from remi_ops.logs.parse import LogParser

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEY_ERROR = """Traceback (most recent call last):
  File "/app/core/pipeline.py", line 42, in score_from_cache
    return cache[f"track:{{track_id}}"]
           ~~~~~^^^^^^^^^^^^^^^^^^^^^
KeyError: 'track:{tid}'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/app/core/pipeline.py", line 15, in score_from_cache
    raise RuntimeError("cache is corrupt")
RuntimeError: {message}"""

MESSAGES = st.one_of(
    st.sampled_from(("cache is corrupt", "Improper token has been passed.", "read timed out",
                     "", "   ", "a: b: c", "closed with 4004", "x\x1cy", "tail  \t",
                     "Traceback (most recent call last):", "Exception Group (2 sub-exceptions)",
                     "\u00e9\u2028z")),
    st.text(max_size=40).filter(lambda t: "\n" not in t),
)
LINES = st.one_of(
    MESSAGES,
    st.sampled_from(("Traceback (most recent call last):", '  File "/app/x.py", line 3, in f',
                     "    f()", "    ^^^", "", "ValueError", "NameError: name 'x' is not defined",
                     "During handling of the above exception, another exception occurred:",
                     "Loop thread traceback (most recent call last):",
                     "discord.errors.LoginFailure: Improper token has been passed.",
                     "TimeoutError: timed out", "  | ValueError: in a group")),
    MESSAGES.map(lambda m: f"Some.Error: {m}"),
)


def plain_parse(text: str) -> RecordBody | None:
    return LogParser._parse_body(text)


@FAST
@given(tid=st.integers(0, 10**10), message=MESSAGES)
def test_a_repeated_traceback_parses_like_the_text_itself(tid: int, message: str) -> None:
    """The shape path equals parsing the text, whatever the messages say (fatal, timeout,
    trailing whitespace, colons, other Unicode whitespace)."""
    shapes = BodyShapes(plain_parse)
    text = KEY_ERROR.format(tid=tid, message=message)
    for _ in range(2):  # the second time from the cache
        assert shapes.parse(text) == plain_parse(text)


@FAST
@given(lines=st.lists(LINES, max_size=30), again=st.lists(LINES, max_size=30))
def test_any_body_parses_like_the_text_itself(lines: list[str], again: list[str]) -> None:
    """Arbitrary continuation lines, parsed after other bodies have filled the cache."""
    shapes = BodyShapes(plain_parse)
    for body in ("\n".join(again), "\n".join(lines), "\n".join(lines + again)):
        assert shapes.parse(body) == plain_parse(body)


def test_bodies_that_differ_only_in_messages_are_parsed_once() -> None:
    """The cache key ignores exception messages: a thousand track ids, one parse."""
    parsed: list[str] = []

    def counting(text: str) -> RecordBody | None:
        parsed.append(text)
        return plain_parse(text)

    shapes = BodyShapes(counting)
    bodies = [shapes.parse(KEY_ERROR.format(tid=tid, message="cache is corrupt"))
              for tid in range(1000)]
    assert len(parsed) == 1
    assert bodies[7] is not None and bodies[7].blocks[0].exc_message == "'track:7'"
    assert len({b.fingerprint(b.kind("ERROR", "remi", "x")[0], "remi", "x")
                for b in bodies if b is not None}) == 1


def test_mask_keeps_the_trailing_whitespace_outside_the_message() -> None:
    shape, messages = mask("KeyError: 'a'  \n  File \"x\", line 1\nplain line")
    assert shape == "KeyError:\x000\x00  \n  File \"x\", line 1\nplain line"
    assert messages == [" 'a'"]


_MASKABLE = re.compile(r"([A-Za-z_][\w.]*):(.*)\Z")


def line_by_line_mask(text: str) -> tuple[str, list[str]]:
    """``mask`` as it was before it became one regex search: a test per line (kept here,
    callable, as the reference it must equal)."""
    lines = text.split("\n")
    messages: list[str] = []
    for i, raw in enumerate(lines):
        if raw and raw[0] not in " \t" and ":" in raw:
            stripped = raw.rstrip()
            m = _MASKABLE.match(stripped)
            if m:
                lines[i] = f"{m[1]}:\x00{len(messages)}\x00{raw[len(stripped):]}"
                messages.append(m[2])
    return "\n".join(lines), messages


@FAST
@given(lines=st.lists(LINES | st.text(max_size=12), max_size=20))
@example(lines=["KeyError: 'a'  ", "", "x:", ":y", "\tA: b", "A.b_c: d: e \u2028 ",
                "Some.Error:\u00a0", "é: x"])
def test_mask_finds_the_lines_a_test_per_line_finds(lines: list[str]) -> None:
    """One search over the text blanks the same messages as testing each line: the first
    line and the last, empty lines, colons in messages, tabs, Unicode whitespace."""
    text = "\n".join(lines)
    assert mask(text) == line_by_line_mask(text)


@pytest.mark.parametrize("count", [63, 64, 65, 200])
def test_mask_of_a_body_with_more_messages_than_placeholders_made_ahead(count: int) -> None:
    """Past the numbered placeholders made at import, each message still gets its own."""
    text = "\n".join(f"E{i}: message {i} \t" if i % 2 else f"E{i}:m{i}" for i in range(count))
    assert mask(text) == line_by_line_mask(text)
    assert len(mask(text)[1]) == count
