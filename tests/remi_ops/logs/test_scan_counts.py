"""A full scan counts records without building them: the header read from the bytes, a
shaped body's messages read only for what decides the kind, one record built per group at
the end; and the groups are those of the line-by-line parser all the same."""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from bubabot_local.logkit import NOW
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from remi_ops.domain import LogKind
from remi_ops.logs import fullscan, placeholders
from remi_ops.logs.body_shapes import BodyShapes, fill, message_facts, titles_fatal
from remi_ops.logs.error_groups import ErrorAggregator
from remi_ops.logs.fullscan import ScanSummary, scan_file
from remi_ops.logs.headers import clean_line, parse_header
from remi_ops.logs.parse import LogParser
from remi_ops.logs.position import LogPosition
from remi_ops.logs.redact import Redactor
from remi_ops.logs.scan import _PLAIN_START, plain_header
from remi_ops.logs.tail import Tailer
from remi_ops.logs.tracebacks import normalize_message, strip_ansi
from tests.remi_ops.logs.test_scan_full import assert_same, calls_of, job, present_path

FAST = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])

# ----------------------------------------------------------------- the header from bytes

PIECES = st.sampled_from((
    "[", "]", " ", "  ", ":", ": ", "2026-01-24 03:00:07", "2026-01-24T03:00:07", "INFO",
    "ERROR", "WARNING ", "CRITICAL", "DEBUG   ", "remi.scan", "discord.gateway", "a:b", "\r",
    "\x1b[31m", "\x1b[0m", "é", "\u00a0", "\u2028", "٣", "\t", "x", "429", "\x00", ""))


@FAST
@given(st.lists(PIECES, max_size=14), st.text(max_size=20))
def test_a_header_read_from_the_bytes_is_the_decoded_lines_header(pieces: list[str],
                                                                  tail: str) -> None:
    """Whatever the line: when the bytes path reads a header it is parse_header's."""
    for line in ("".join(pieces) + tail,
                 "[2026-01-24 03:00:07] [ERROR   ] " + "".join(pieces) + tail):
        if "\n" in line:
            continue
        data = (line + "\n").encode("utf-8", "surrogatepass")
        got = plain_header(data, 0, len(data))
        if got is not None:
            assert got == parse_header(clean_line(data[:-1].decode("utf-8", "replace")))


@FAST
@given(st.lists(PIECES, max_size=14), st.text(max_size=20))
def test_a_line_starts_a_record_from_its_bytes_as_the_decoded_line_says(pieces: list[str],
                                                                        tail: str) -> None:
    """The scan's record boundaries read from a line's start (without its message) are
    parse_header's: wherever the bytes say "a header", the decoded line is one, and every
    line read whole from the bytes is also one by its start."""
    for line in ("".join(pieces) + tail,
                 "[2026-01-24 03:00:07] [INFO    ] " + "".join(pieces) + tail,
                 "[2026-01-24 03:00:07] [INFO    ] discord.gateway:" + "".join(pieces) + tail):
        if "\n" in line:
            continue
        data = (line + "\n").encode("utf-8", "surrogatepass")
        starts = _PLAIN_START.match(data, 0, len(data)) is not None
        if starts:
            assert parse_header(clean_line(data[:-1].decode("utf-8", "replace"))) is not None
        if plain_header(data, 0, len(data)) is not None:
            assert starts


@pytest.mark.parametrize("line", [
    "[2026-01-24 03:00:07] [ERROR   ] remi.scan: failed for track 7",
    "[2026-01-24 03:00:07] [INFO    ] discord.gateway: Shard ID None has connected\r",
    "[2026-01-24T03:00:07] [CRITICAL] a:b: c: d",
    "[2026-01-24 03:00:07] [WARNING ] remi: ",
    "[2026-01-24 03:00:07] [DEBUG   ] remi:",
    "[2026-01-24 03:00:07] [ERROR   ] remi.scan: caf\u00e9 \u2028 \ufffd",
])
def test_the_default_layout_is_read_from_the_bytes(line: str) -> None:
    data = (line + "\n").encode()
    assert plain_header(data, 0, len(data)) == parse_header(clean_line(line))
    assert plain_header(data, 0, len(data)) is not None


# ----------------------------------------------------------------- a shape's messages

TRACEBACK = """Traceback (most recent call last):
  File "/app/core/pipeline.py", line 42, in score_from_cache
    return cache[f"track:{{track_id}}"]
{first_type}: {first}

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/app/core/pipeline.py", line 15, in score_from_cache
    raise RuntimeError("cache is corrupt")
{last_type}: {last}"""
TYPES = st.sampled_from(("KeyError", "RuntimeError", "discord.errors.LoginFailure",
                         "asyncio.exceptions.TimeoutError", "requests.ReadTimeout",
                         "discord.app_commands.errors.CommandInvokeError", "Some.Error"))
MESSAGES = st.one_of(
    st.sampled_from(("cache is corrupt", "Improper token has been passed.", "read timed out",
                     "", "   ", "a: b: c", "closed with 4004", "code=4014", "tail  \t",
                     "requesting privileged intents", "Timed Out", "x\x1cy")),
    st.text(max_size=30).filter(lambda t: "\n" not in t))


@FAST
@given(first_type=TYPES, first=MESSAGES, last_type=TYPES, last=MESSAGES)
def test_a_shapes_facts_are_those_of_its_filled_parse(first_type: str, first: str,
                                                      last_type: str, last: str) -> None:
    """Fatal (a bad token) and timeout read from the messages equal the filled-in parse's,
    whatever the messages and exception types say."""
    text = TRACEBACK.format(first_type=first_type, first=first, last_type=last_type, last=last)
    shaped = BodyShapes(LogParser._parse_body).shaped(text)
    if shaped is None or shaped.template is None:
        return
    body = fill(shaped.template, shaped.messages)
    assert body == LogParser._parse_body(text)
    assert message_facts(shaped.template, shaped.messages) == (body.fatal, body.timeout)


#: lines that may follow an exception line: more of its message, or another exception's
FOLLOWING = st.sampled_from((
    "Improper token has been passed.", "4004", "closed with", "close code:", "code=",
    "  indented", "", "PrivilegedIntentsRequired", "Some.Error: close code: 4014",
    "x: LoginFailure", "read timed out", "During handling of the above exception, another "
    "exception occurred:"))


@FAST
@given(first_type=TYPES, first=MESSAGES, following=st.lists(FOLLOWING, max_size=3),
       last_type=TYPES, last=MESSAGES)
@example(first_type="KeyError", first="", following=["Improper token has been passed."],
         last_type="RuntimeError", last="cache is corrupt")
@example(first_type="KeyError", first="close code:", following=["4004"],
         last_type="RuntimeError", last="cache is corrupt")
def test_fatal_read_from_the_messages_is_fatal_read_from_every_title(
        first_type: str, first: str, following: list[str], last_type: str,
        last: str) -> None:
    """A message that is blank lets the next line be its title, a fatal phrase may be cut
    across lines or messages: the one search over the messages decides as reading each
    filled-in title does (and as the filled-in parse says)."""
    text = TRACEBACK.format(first_type=first_type, first="\n".join([first, *following]),
                            last_type=last_type, last=last)
    shaped = BodyShapes(LogParser._parse_body).shaped(text)
    if shaped is None or shaped.template is None:
        return
    body = fill(shaped.template, shaped.messages)
    assert body == LogParser._parse_body(text)
    facts = message_facts(shaped.template, shaped.messages)
    assert facts == (titles_fatal(shaped.template, shaped.messages), body.timeout)
    assert facts == (body.fatal, body.timeout)


# ----------------------------------------------------------------- counting, not building

HEADER = "[2026-01-24 03:{m:02d}:{s:02d}] [{level}] {logger}: {message}\n"


def shaped_log(path: Path, records: int, seed: int) -> None:
    """Tracebacks whose messages differ every time (some fatal, some timeouts), in INFO."""
    rng = random.Random(seed)
    parts = []
    for i in range(records):
        at = {"m": i // 60 % 60, "s": i % 60}
        if rng.random() < 0.6:
            parts.append(HEADER.format(**at, level="INFO    ", logger="remi.scan",
                                       message=f"Scanning {rng.randrange(99)} tracks"))
            continue
        pick = rng.choice
        parts.append(HEADER.format(**at, level=pick(("ERROR   ", "WARNING ", "INFO    ")),
                                   logger=pick(("remi.scoring", "discord.client")),
                                   message=pick(("Scoring failed", "", "retry timed out"))))
        parts.append(TRACEBACK.format(
            first_type=pick(("KeyError", "Some.Error")),
            first=pick((f"'track:{rng.randrange(10**9)}'", "closed with 4004", "")),
            last_type=pick(("RuntimeError", "TimeoutError", "discord.errors.LoginFailure")),
            last=pick(("cache is corrupt", f"read timed out after {rng.randrange(60)}s",
                       "Improper token has been passed.", f"id {rng.randrange(10**6)}")))
            + "\n")
    path.write_text("".join(parts), encoding="utf-8")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counted_groups_equal_the_line_by_line_parsers(tmp_path: Path, seed: int) -> None:
    path = tmp_path / f"shaped{seed}.log"
    shaped_log(path, 3000, seed)
    expected = present_path(path)
    assert expected.records > 500 and len(expected.order) > 5
    assert_same(scan_file(job(path)), expected)


def test_a_full_scan_builds_one_record_per_group_not_per_occurrence(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of errors in a few groups: records are built only to describe the groups
    (a fallback record, fed line by line at a block's end, may add a few)."""
    path = tmp_path / "shaped.log"
    shaped_log(path, 3000, seed=4)
    built = calls_of(monkeypatch, "_record")
    start = time.perf_counter()
    summary = scan_file(job(path))
    assert summary.records > 500
    assert len(built) <= len(summary.order) + 2
    assert time.perf_counter() - start < 60  # generous: only a hang would fail this


# ----------------------------------------------------------------- blocks read in place


def tailed_groups(path: Path) -> ScanSummary:
    """The reference for a log with over-long lines: the tailer (which cuts them) and the
    line-by-line parser, folded into an ErrorAggregator."""
    st = path.stat()
    tailer = Tailer(path, LogPosition(str(path), st.st_dev, st.st_ino, 0))
    parser = LogParser(source="stderr")
    aggregator = ErrorAggregator("remi", Redactor(()))
    records, order = 0, list[str]()
    while True:
        chunk = tailer.read_new(max_bytes=1 << 30)
        batch = parser.feed(chunk.lines) + ([] if chunk.more else parser.flush())
        batch = [r for r in batch if r.kind is not LogKind.INFO]
        records += len(batch)
        order += aggregator.fold(batch, NOW).new
        if not chunk.more:
            break
    return ScanSummary(records, tuple(order),
                       {fp: g for fp in order if (g := aggregator.group(fp)) is not None})


@pytest.mark.parametrize("long_at", [None, 0.3, 0.9])
def test_blocks_cut_mid_line_and_long_lines_give_the_tailers_groups(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, long_at: float | None) -> None:
    """Small blocks (so most end inside a line, read again from its start), an unfinished
    last line, and an ERROR line longer than the tailer keeps (cut the same way)."""
    monkeypatch.setattr(fullscan, "BLOCK_BYTES", 100_000)
    path = tmp_path / "blocks.log"
    shaped_log(path, 6000, seed=5)
    text = path.read_text(encoding="utf-8")
    if long_at is not None:
        cut = text.index("\n[", int(len(text) * long_at)) + 1
        long_line = HEADER.format(m=0, s=0, level="ERROR   ", logger="remi.scan",
                                  message="x" * 70_000 + " failed")
        text = text[:cut] + long_line + text[cut:]
    path.write_text(text + "[2026-01-24 03:59:59] [ERROR   ] remi.scan: unfinished",
                    encoding="utf-8")
    assert path.stat().st_size > 8 * fullscan.BLOCK_BYTES
    assert_same(scan_file(job(path)), tailed_groups(path))


# ----------------------------------------------------------------- timestamps

DIGITS = st.sampled_from("0123456789٣")


@FAST
@given(st.lists(DIGITS, min_size=14, max_size=14), st.sampled_from(" T"),
       st.sampled_from(("UTC", "Europe/Paris", "America/New_York")))
def test_a_timestamp_is_read_as_before_in_any_zone(digits: list[str], sep: str,
                                                   zone: str) -> None:
    """UTC stamps are read with their offset (cheaper); every zone gives what reading the
    local time and converting it gives, or None for an impossible date."""
    d = "".join(digits)
    stamp = f"{d[:4]}-{d[4:6]}-{d[6:8]}{sep}{d[8:10]}:{d[10:12]}:{d[12:14]}"
    tz = UTC if zone == "UTC" else ZoneInfo(zone)
    try:
        expected: datetime | None = datetime.fromisoformat(stamp).replace(
            tzinfo=tz).astimezone(UTC)
    except ValueError:
        expected = None
    got = LogParser(tz=tz)._time(stamp)
    assert got == expected
    assert got is None or got.tzinfo is UTC


# ----------------------------------------------------------------- message placeholders

MESSAGE_TEXT = st.lists(st.sampled_from(
    [*"ab0129fF.:-'\" xX@/T_+eéZ٣\tgtr", "True", "://", "ms", "0x1f", "12:30:45", "Tx", "_1",
     "http", "a.b", "1.2.3.4"]),
    max_size=40).map("".join)
#: the placeholder regex as it was before its kinds moved to remi_ops.logs.placeholders:
#: the reference the faster searches must equal
BEFORE = r"""
    (?P<email>\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}\b)
  | (?P<url>\b[a-zA-Z][a-zA-Z0-9+.-]{0,20}://[^\s"'<>]{1,2000})
  | (?P<ip>\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b)
  | (?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)
  | (?P<sha1>\b[0-9a-fA-F]{40}\b)
  | (?P<md5>\b[0-9a-fA-F]{32}\b)
  | (?P<date>\b\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:[.,]\d{1,9})?)?(?:Z|[+-]\d\d:?\d\d)?)?\b
      | \b\d\d:\d\d:\d\d\b)
  | (?P<duration>\b\d{1,12}(?:\.\d{1,12})?\s?(?:ms|s|secs?|seconds?|mins?|minutes?|h|hours?)\b)
  | (?P<hex>\b0[xX][0-9a-fA-F]{1,32}\b | \b(?=[0-9a-fA-F]{0,64}\d)(?=[0-9a-fA-F]{0,64}[a-fA-F])
      [0-9a-fA-F]{8,64}\b)
  | (?P<float>-?\b\d{1,32}\.\d{1,32}\b)
  | (?P<int>-?\b\d{1,64}\b)
  | (?P<quoted_str>'[^'\n]{0,500}'|"[^"\n]{0,500}")
  | (?P<bool>\b(?:True|False|true|false)\b)
"""


def name(m: re.Match[str]) -> str:
    return f"<{m.lastgroup}>"


@FAST
@given(MESSAGE_TEXT)
def test_placeholders_are_found_as_by_the_bare_alternation(text: str) -> None:
    """The lookahead in front of the placeholder regex only skips positions where no kind
    can start: the same values are replaced, by the same names."""
    bare = re.compile(BEFORE, re.VERBOSE)
    assert placeholders.PLACEHOLDERS.sub(name, text) == bare.sub(name, text)
    assert re.compile(placeholders.alternation()).sub(name, text) == bare.sub(name, text)


@FAST
@given(MESSAGE_TEXT)
@example("is True, not false: 0xff deadbeef1 at 12:30:45 for 5ms in 'x' (-3, ٣)")
@example("mail a@b.cd at https://x.y/z True")
def test_a_message_without_at_or_scheme_gets_the_same_placeholders(text: str) -> None:
    """Searched without the e-mail and URL kinds when it cannot hold one, and then only from
    the starts of words a value can begin with: the same values, the same names."""
    assert placeholders.replace_values(text) == re.compile(BEFORE, re.VERBOSE).sub(name, text)


def lines_normalised(message: str) -> str:
    """``normalize_message`` as it was before one-line messages took a path of their own
    (kept here, callable, as the reference)."""
    lines = [line.strip() for line in strip_ansi(message).split("\n") if line.strip()][:2]
    return placeholders.replace_values("\n".join(lines)[:4000])


@FAST
@given(st.one_of(MESSAGE_TEXT, st.lists(MESSAGE_TEXT, max_size=3).map("\n".join),
                 st.text(max_size=40)))
@example("  Scan of track 1234567890 failed: no stream URL \t")
@example(" \x1b[31m ")
@example("\u2028 x \x85")
@example("x" * 4100 + " 12")
def test_a_one_line_message_is_normalised_as_any_other(message: str) -> None:
    """A message without a newline or a colour code is only stripped before its values are
    replaced: what splitting it into lines gave."""
    assert normalize_message(message) == lines_normalised(message)
