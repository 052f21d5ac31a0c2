"""Properties: arbitrary input through tailer, parser, fingerprints and redaction.

Nothing raises, outputs stay bounded, the bulk fast path equals the line-by-line parser,
and a planted secret never survives redaction (not even as a fragment after truncation).
"""

from __future__ import annotations

import itertools
import string
import time
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from remi_ops.domain import LogKind, LogRecord
from remi_ops.logs import tracebacks
from remi_ops.logs.error_groups import (
    LogParser,
    fingerprint_text,
    normalize_message,
    parse_traceback,
)
from remi_ops.logs.redact import Redactor, redact_then_truncate
from remi_ops.logs.tail import CUT_MARKER, LogPosition, Tailer
from remi_ops.logs.tracebacks import parse_traceback_parts

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
MAX_LINE = 64

# --------------------------------------------------------------------------- generators

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOGGERS = ("discord.gateway", "discord.client", "remi.scan", "root")
MESSAGES = ("Scanning 25 tracks", "Shard ID None has successfully RESUMED session abc.",
            "Shard ID None heartbeat blocked for more than 20 seconds.",
            "We are being rate limited. GET /x responded with 429.", "Improper token has been "
            "passed.", "request timed out", "Ignoring exception in command 'scan'", "")


@st.composite
def header(draw: st.DrawFn) -> str:
    level, logger, msg = (draw(st.sampled_from(LEVELS)), draw(st.sampled_from(LOGGERS)),
                          draw(st.sampled_from(MESSAGES)))
    layout = draw(st.integers(0, 4))
    if layout == 0:
        return f"[2026-01-24 03:00:0{draw(st.integers(0, 9))}] [{level:<8}] {logger}: {msg}"
    if layout == 1:
        return (f"\x1b[30;1m2026-01-24 03:00:00\x1b[0m \x1b[34;1m{level:<8}\x1b[0m "
                f"\x1b[35m{logger}\x1b[0m {msg}")
    if layout == 2:
        return f"{level}:{logger}:{msg}"
    if layout == 3:
        return f"2026-01-24 03:00:00,123 {level} {logger}: {msg}"
    return f"2026-01-24 03:00:00,123 - {logger} - {level} - {msg}"


EXC_TYPES = ("NameError", "KeyError", "TimeoutError", "discord.errors.LoginFailure",
             "ValueError")


@st.composite
def traceback_text(draw: st.DrawFn, exc: str | None = None) -> str:
    frames = draw(st.lists(st.tuples(st.sampled_from(("/app/scan.py", "/app/score.py",
                                                      "/venv/lib/python3.11/site-packages/"
                                                      "discord/client.py")),
                                     st.integers(1, 999), st.sampled_from(("f", "g", "<module>"))),
                           min_size=0, max_size=4))
    lines = ["Traceback (most recent call last):"]
    for path, lineno, func in frames:
        lines += [f'  File "{path}", line {lineno}, in {func}', "    do_something()",
                  "    ^^^^^^^^^^^^^^"]
    lines.append(f"{exc or draw(st.sampled_from(EXC_TYPES))}: boom {draw(st.integers(0, 9))}")
    if draw(st.booleans()):
        lines = [*lines, "", "During handling of the above exception, another exception "
                 "occurred:", "", *lines]
    return "\n".join(lines)


JUNK_LINE = st.one_of(
    st.text(max_size=80),
    st.sampled_from(('  File "/app/x.py", line 3, in f', "    ^^^^", "", "   ",
                     "During handling of the above exception, another exception occurred:",
                     "Loop thread traceback (most recent call last):", "[scan] done",
                     "Traceback (most recent call last):", "NameError: name 'x' is not defined",
                     "\x1b[31mTraceback (most recent call last):", "boom\x1b[0m")),
)
LOG_LINES = st.lists(st.one_of(header(), JUNK_LINE, traceback_text()), max_size=40).map(
    lambda items: "\n".join(items).split("\n"))


def non_info(records: list[LogRecord]) -> list[LogRecord]:
    return [r for r in records if r.kind is not LogKind.INFO]


def assert_bounded(records: list[LogRecord], n_lines: int) -> None:
    assert len(records) <= n_lines
    for r in records:
        assert len(r.message) <= 70_000 + 8192 * 501
        assert r.traceback.count("\n") <= 501
        assert r.fingerprint == "" or len(r.fingerprint) == 16


# --------------------------------------------------------------------------- tailer


def model_lines(data: bytes) -> list[str]:
    """What the tailer must emit for complete lines (max line 64)."""
    out = []
    for raw in data.split(b"\n")[:-1]:
        line = raw
        if len(raw) > MAX_LINE:
            head = raw[:MAX_LINE]
            kept = head.rstrip(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               b"0123456789_.+/=%-")
            line = (kept if kept else head) + CUT_MARKER
        text = line.decode("utf-8", "replace")
        out.append(text[:-1] if text.endswith("\r") else text)
    return out


@FAST
@given(writes=st.lists(st.binary(max_size=200).map(lambda b: b.replace(b"\r", b"")),
                       min_size=1, max_size=12),
       restarts=st.lists(st.booleans(), min_size=12, max_size=12))
def test_tailer_emits_each_complete_line_exactly_once(tmp_path: Path, writes: list[bytes],
                                                      restarts: list[bool]) -> None:
    """Arbitrary appends, reads and watcher restarts: every line once, in order, bounded."""
    log = tmp_path / f"p{time.monotonic_ns()}.log"
    log.write_bytes(b"")
    tailer = Tailer(log, max_line_bytes=MAX_LINE)
    seen: list[str] = []
    for chunk_bytes, restart in zip(writes, restarts, strict=False):
        with open(log, "ab") as f:
            f.write(chunk_bytes)
        chunk = tailer.read_new()
        assert all(len(line.encode("utf-8", "replace")) <= MAX_LINE * 3 + len(CUT_MARKER)
                   for line in chunk.lines)
        seen += chunk.lines
        if restart:
            tailer = Tailer(log, LogPosition.from_dict(chunk.position.to_dict()),
                            max_line_bytes=MAX_LINE)
    data = log.read_bytes()
    expected = model_lines(data)
    # a partial over-long last line is emitted (cut) before its newline arrives
    tail = data.rsplit(b"\n", 1)[-1]
    if len(tail) > MAX_LINE:
        expected += model_lines(tail + b"\n")
    assert seen == expected


# --------------------------------------------------------------------------- parser


@FAST
@given(lines=LOG_LINES, cuts=st.lists(st.integers(0, 60), max_size=5))
def test_parser_never_raises_is_bounded_and_fast_path_is_equal(lines: list[str],
                                                                cuts: list[int]) -> None:
    """Any lines: no exception, bounded output, and feed_bytes(keep_info=False) in chunks
    equals the line-by-line parser without its INFO records."""
    full = LogParser()
    records = full.feed(lines) + full.flush()
    assert_bounded(records, len(lines))
    bounds = sorted({0, len(lines), *(c for c in cuts if c < len(lines))})
    fast = LogParser(keep_info=False)
    got: list[LogRecord] = []
    for a, b in itertools.pairwise(bounds):
        got += fast.feed_bytes(data_of(lines[a:b]))
    got += fast.flush()
    assert got == non_info(_full(lines))


def data_of(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode("utf-8", "surrogatepass")


def _full(lines: list[str]) -> list[LogRecord]:
    """The line-by-line parse of what the bytes decode back to (splitting on \\n only)."""
    parser = LogParser()
    text = data_of(lines).decode("utf-8", "replace")
    return parser.feed(text.split("\n")[:-1]) + parser.flush()


@FAST
@given(blocks=st.lists(st.tuples(st.sampled_from(("info", "error_tb", "bare_tb")),
                                 st.sampled_from(EXC_TYPES)), max_size=25))
def test_interleaved_tracebacks_each_become_one_crash(blocks: list[tuple[str, str]]) -> None:
    """Records and tracebacks in any order: one record per traceback, exception in order."""
    parts, expected = [], []
    for kind, exc in blocks:
        if kind == "info":
            parts.append("[2026-01-24 03:00:00] [INFO    ] remi.scan: Scanning 25 tracks")
            continue
        if kind == "error_tb":
            parts.append("[2026-01-24 03:00:00] [ERROR   ] remi.scan: failed")
        parts.append(f'Traceback (most recent call last):\n  File "/app/x.py", line 1, in f\n'
                     f"    f()\n{exc}: boom")
        expected.append(exc)
    parser = LogParser()
    records = parser.feed("\n".join(parts)) + parser.flush()
    crashes = [r.exc_type for r in records if r.traceback]
    assert crashes == expected


@FAST
@given(tb=traceback_text(), cut=st.integers(1, 40), with_header=st.booleans())
def test_truncated_traceback_still_yields_a_record(tb: str, cut: int, with_header: bool) -> None:
    """A traceback cut anywhere (end of file or next record) still gives its record."""
    lines = tb.split("\n")[:cut]
    if with_header:
        lines.insert(0, "[2026-01-24 03:00:00] [ERROR   ] remi: failed")
    for tail in ([], ["[2026-01-24 03:00:01] [INFO    ] remi: next"]):
        parser = LogParser()
        records = parser.feed(lines + tail) + parser.flush()
        assert records[0].kind in (LogKind.CRASH, LogKind.TIMEOUT, LogKind.FATAL_CONFIG)
        assert records[0].fingerprint


@FAST
@given(parts=st.lists(st.one_of(traceback_text(), JUNK_LINE), max_size=6))
@example(parts=['File "", line 0, in 0', "\r0", "A:"])  # no type: the message kept as read
def test_shape_cache_parses_like_the_plain_parser(parts: list[str]) -> None:
    """The cache keyed by a traceback's shape (messages blanked) changes no result."""
    text = "\n".join(parts)
    blocks = tracebacks._parse(text)
    assert parse_traceback_parts(text) == (blocks, tracebacks.stack_parts(blocks))


@FAST
@given(text=st.text(max_size=2000))
def test_traceback_tools_never_raise(text: str) -> None:
    """Fingerprinting arbitrary text: no exception, a 16-hex key or nothing."""
    parse_traceback(text)
    fp = fingerprint_text(text)
    assert fp == "" or (len(fp) == 16 and all(c in string.hexdigits for c in fp))
    assert len(normalize_message(text)) <= 4000 + 20 * 2


def test_ten_megabyte_line_with_nuls_through_everything(tmp_path: Path) -> None:
    """A 10 MB single line with NULs: tailer, parser, fingerprints and redaction cope."""
    log = tmp_path / "big.log"
    log.write_bytes(b"[2026-01-24 03:00:00] [ERROR   ] remi: " + b"\x00ab" * 3_500_000 + b"\n"
                    + b"Traceback (most recent call last):\n  File \"/a.py\", line 1, in f\n"
                    + b"    f()\nValueError: \x00\n")
    start = time.perf_counter()
    tailer = Tailer(log, max_line_bytes=64 * 1024, initial_read_bytes=32 * 1024 * 1024)
    chunk = tailer.read_new()
    parser = LogParser()
    records = parser.feed(chunk.lines) + parser.flush()
    redacted = Redactor(["abababab"])(records[0].message + records[0].traceback)
    big = Redactor()(log.read_text(errors="replace"))
    assert time.perf_counter() - start < 10
    assert records[0].kind is LogKind.CRASH and len(records[0].message) < 70_000
    assert "\x00" in redacted and len(big) > 10_000_000


# --------------------------------------------------------------------------- redaction

TOKEN = st.from_regex(r"[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}",
                      fullmatch=True)
WEBHOOK = st.from_regex(r"https://(ptb\.|canary\.)?discord(app)?\.com/api(/v10)?/webhooks/"
                        r"[0-9]{17,20}/[A-Za-z0-9_-]{60,80}", fullmatch=True)
CLIENT_SECRET = st.from_regex(r"[A-Za-z0-9]{8,32}", fullmatch=True)
KNOWN = st.text(alphabet=string.ascii_letters + string.digits + "!#$%*+-./:=?@^_~",
                min_size=8, max_size=40)
AROUND = st.text(max_size=300)


def fragments(secret: str, n: int = 8) -> set[str]:
    return {secret[i:i + n] for i in range(len(secret) - n + 1)}


def assert_gone(secret: str, text: str, out: str) -> None:
    """Neither the secret nor a piece of 8+ characters of it (that was not there anyway)."""
    assert secret not in out
    innocent = {f for f in fragments(secret) if f in text.replace(secret, "\x00")}
    leaked = {f for f in fragments(secret) - innocent if f in out}
    assert not leaked, (secret, out)


@FAST
@given(before=AROUND, after=AROUND, secret=TOKEN, limit=st.integers(0, 700))
def test_planted_discord_token_never_survives(before: str, after: str, secret: str,
                                              limit: int) -> None:
    """A token-shaped string between spaces anywhere in arbitrary text is redacted."""
    text = f"{before} {secret} {after}"
    redact = Redactor()
    assert_gone(secret, text, redact(text))
    assert_gone(secret, text, redact_then_truncate(text, limit, redact))


@FAST
@given(before=AROUND, after=AROUND, secret=WEBHOOK, limit=st.integers(0, 700))
def test_planted_webhook_url_never_survives(before: str, after: str, secret: str,
                                            limit: int) -> None:
    """A webhook URL's token is redacted wherever the URL sits."""
    text = f"{before} {secret} {after}"
    redact = Redactor()
    token = secret.rsplit("/", 1)[1]
    assert_gone(token, text, redact(text))
    assert_gone(token, text, redact_then_truncate(text, limit, redact))


@FAST
@given(before=AROUND, after=AROUND, secret=CLIENT_SECRET, style=st.integers(0, 3),
       limit=st.integers(0, 700))
def test_planted_client_secret_never_survives(before: str, after: str, secret: str,
                                              style: int, limit: int) -> None:
    """client_secret=…, JSON, query string or SoundCloud URL: the value is redacted."""
    planted = (f"client_secret={secret}", f'"client_secret": "{secret}"',
               f"https://api.soundcloud.com/x?client_secret={secret}&a=1",
               f"SOUNDCLOUD_CLIENT_ID: {secret}")[style]
    text = f"{before} {planted} {after}"
    redact = Redactor()
    assert_gone(secret, text, redact(text))
    assert_gone(secret, text, redact_then_truncate(text, limit, redact))


@FAST
@given(before=AROUND, after=AROUND, secret=KNOWN, limit=st.integers(0, 700))
def test_planted_known_value_never_survives_anywhere(before: str, after: str, secret: str,
                                                     limit: int) -> None:
    """A known exact value is gone even glued to arbitrary text on both sides."""
    text = before + secret + after
    redact = Redactor([secret])
    assert_gone(secret, text, redact(text))
    assert_gone(secret, text, redact_then_truncate(text, limit, redact))


@FAST
@given(text=st.text(max_size=3000))
def test_redactor_never_raises_and_is_idempotent(text: str) -> None:
    """Arbitrary text: a string back; redacting the result again changes nothing."""
    redact = Redactor(["sc-secret-value"])
    once = redact(text)
    assert isinstance(once, str)
    assert redact(once) == once
