"""Parsing, classification, tracebacks, fingerprints and error groups, on real log samples."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from remi_ops.domain import ErrorGroup, LogKind, LogRecord
from remi_ops.logs.error_groups import (
    ErrorAggregator,
    LogParser,
    classify,
    culprit_of,
    fingerprint_text,
    gateway_state,
    is_in_app,
    normalize_message,
    parse_header,
    parse_traceback,
    strip_ansi,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "logs"
NOW = datetime(2026, 1, 24, 12, 0, tzinfo=UTC)
NAME_ERROR = "NameError: name 'asyncio' is not defined"


def parse(text: str, **kw: Any) -> list[LogRecord]:
    parser = LogParser(**kw)
    return parser.feed(text) + parser.flush()


def sample(name: str) -> list[LogRecord]:
    return parse((DATA / name).read_text(encoding="utf-8"))


def kinds(records: list[LogRecord]) -> list[str]:
    return [str(r.kind) for r in records]


# --------------------------------------------------------------------------- layouts


@pytest.mark.parametrize(("line", "expected"), [
    ("[2026-01-02 03:04:05] [INFO    ] discord.gateway: Shard ID None has connected",
     ("2026-01-02 03:04:05", "INFO", "discord.gateway", "Shard ID None has connected")),
    ("[2026-01-02 03:04:05] [CRITICAL] remi: down: really", (
        "2026-01-02 03:04:05", "CRITICAL", "remi", "down: really")),
    ("2026-01-02 03:04:05 WARNING  discord.gateway Shard ID None heartbeat blocked",
     ("2026-01-02 03:04:05", "WARNING", "discord.gateway", "Shard ID None heartbeat blocked")),
    ("INFO:discord.client:logging in using static token",
     ("", "INFO", "discord.client", "logging in using static token")),
    ("ERROR:root:boom: with colon", ("", "ERROR", "root", "boom: with colon")),
    ("2026-01-02 03:04:05,123 ERROR remi.scan: Scan failed",
     ("2026-01-02 03:04:05", "ERROR", "remi.scan", "Scan failed")),
    ("2026-01-02 03:04:05,123 - remi.scan - WARNING - slow scan",
     ("2026-01-02 03:04:05", "WARNING", "remi.scan", "slow scan")),
    ("[2026-01-02 03:04:05] [INFO    ] discord.client:", (
        "2026-01-02 03:04:05", "INFO", "discord.client", "")),
])
def test_header_layouts(line: str, expected: tuple[str, str, str, str]) -> None:
    """Each supported layout yields timestamp, level, logger and message."""
    assert tuple(parse_header(line) or ()) == expected


@pytest.mark.parametrize("line", [
    "[scan] user 1184729384756 scanning https://soundcloud.com/remi/likes",
    "Traceback (most recent call last):",
    '  File "/x.py", line 1, in <module>',
    "NameError: name 'asyncio' is not defined",
    "During handling of the above exception, another exception occurred:",
    "INFO is great",
    "2026-01-02 not a header",
    "",
])
def test_non_headers(line: str) -> None:
    """Prints, traceback lines and look-alikes are not record headers."""
    assert parse_header(line) is None


def test_strip_ansi() -> None:
    """discord.py's colour codes disappear, text stays."""
    raw = "\x1b[30;1m2026-01-02 03:04:05\x1b[0m \x1b[34;1mINFO    \x1b[0m \x1b[35mdiscord\x1b[0m m"
    assert strip_ansi(raw) == "2026-01-02 03:04:05 INFO     discord m"
    assert strip_ansi("plain") == "plain"


# --------------------------------------------------------------------------- samples


SAMPLE_KINDS = {
    "incident_plain.log": ["info", "info", "info", "gateway", "crash", "hang", "hang", "hang",
                           "hang", "hang", "hang", "rate_limit", "gateway", "rate_limit",
                           "rate_limit", "gateway", "gateway"],
    "basicconfig.log": ["info", "timeout", "crash", "rate_limit", "error"],
    "timestamped.log": ["info", "timeout", "crash", "rate_limit", "error"],
    "privileged_intents.log": ["info", "gateway", "fatal_config"],
    "close_4004.log": ["info", "gateway", "fatal_config"],
    "login_failure_ansi.log": ["fatal_config"],
    "bot_stdout.log": ["info", "info", "info", "crash", "info"],
}


@pytest.mark.parametrize(("name", "expected"), sorted(SAMPLE_KINDS.items()))
def test_sample_logs_classify(name: str, expected: list[str]) -> None:
    """Every record of every real sample gets the kind an on-call engineer would give it."""
    assert kinds(sample(name)) == expected


def test_ansi_layout_parses_like_plain() -> None:
    """The colour layout gives the same records as the plain one."""
    plain, ansi = sample("incident_plain.log"), sample("incident_ansi.log")
    assert [(r.kind, r.level, r.logger, r.message, r.at, r.exc_type, r.fingerprint)
            for r in plain] == [(r.kind, r.level, r.logger, r.message, r.at, r.exc_type,
                                  r.fingerprint) for r in ansi]
    assert all("\x1b" not in r.traceback for r in ansi)


def test_incident_name_error_record() -> None:
    """The /scan NameError: its record owns the chained traceback; the wrapper is seen through."""
    crash = next(r for r in sample("incident_plain.log") if r.kind is LogKind.CRASH)
    assert crash.level == "ERROR" and crash.logger == "discord.app_commands.tree"
    assert crash.message == "Ignoring exception in command 'scan'"
    assert crash.at == datetime(2026, 1, 24, 3, 1, 10, tzinfo=UTC)
    assert crash.exc_type == "NameError"
    assert crash.traceback.startswith("Traceback (most recent call last):")
    assert crash.traceback.endswith("NameError: name 'asyncio' is not defined")
    assert "The above exception was the direct cause" in crash.traceback
    assert len(crash.fingerprint) == 16


def test_heartbeat_blocked_keeps_loop_stack_and_seconds() -> None:
    """HANG: blocked_s from the message; the "Loop thread traceback" kept as the traceback."""
    hangs = [r for r in sample("incident_plain.log") if r.kind is LogKind.HANG]
    assert [r.blocked_s for r in hangs] == [10.0, 20.0, 30.0, 31.4, None, 850.0]
    blocked = hangs[-1]
    assert blocked.message == "Shard ID None heartbeat blocked for more than 850 seconds."
    assert blocked.traceback.startswith("Loop thread traceback (most recent call last):")
    assert "soundcloud_client.py" in blocked.traceback
    assert "requests/sessions.py" in blocked.traceback
    assert blocked.exc_type == ""
    assert len({r.fingerprint for r in hangs if r.traceback}) == 1  # 10 s … 850 s: one group


def test_gateway_state_follows_the_last_event() -> None:
    """connected → resumed → invalidated → connected; reconnecting after a failed connect."""
    assert gateway_state(sample("incident_plain.log")) == "connected"
    assert gateway_state(sample("privileged_intents.log")) == "reconnecting"
    records = sample("incident_plain.log")
    resumed = [r for r in records if "RESUMED" in r.message]
    assert gateway_state(records[:records.index(resumed[0]) + 1]) == "resumed"
    invalidated = next(r for r in records if "invalidated" in r.message)
    assert gateway_state(records[:records.index(invalidated) + 1]) == "invalidated"
    assert gateway_state([]) == ""


def test_fatal_config_wins_over_crash() -> None:
    """LoginFailure / PrivilegedIntentsRequired / 4004 are tracebacks, but restarts can't fix."""
    login = sample("login_failure_ansi.log")[-1]
    assert login.kind is LogKind.FATAL_CONFIG
    assert login.exc_type == "discord.errors.LoginFailure"
    intents = sample("privileged_intents.log")[-1]
    assert intents.exc_type == "discord.errors.PrivilegedIntentsRequired"
    assert intents.level == "" and intents.message.startswith(
        "discord.errors.PrivilegedIntentsRequired: Shard ID None is requesting")


def test_reconnect_attempt_is_gateway_not_crash() -> None:
    """"Attempting a reconnect" (logged with a traceback) is a gateway event."""
    record = sample("close_4004.log")[1]
    assert record.kind is LogKind.GATEWAY
    assert record.exc_type == "aiohttp.client_exceptions.ClientConnectorError"
    assert record.fingerprint == ""


def test_timeout_traceback() -> None:
    """asyncio.wait_for's TimeoutError (chained from CancelledError) is TIMEOUT."""
    record = sample("timestamped.log")[1]
    assert record.kind is LogKind.TIMEOUT and record.exc_type == "TimeoutError"
    assert record.at == datetime(2026, 1, 24, 6, 2, tzinfo=UTC)


def test_during_handling_chain() -> None:
    """Implicit chaining: both exceptions kept, the last one is the record's exception."""
    record = sample("basicconfig.log")[2]
    assert record.exc_type == "RuntimeError"
    blocks = parse_traceback(record.traceback)
    assert [b.exc_type for b in blocks] == ["KeyError", "RuntimeError"]
    assert blocks[0].exc_message == "'track:123'"


def test_stdout_print_owns_the_traceback_after_it() -> None:
    """A print followed by a printed traceback: the print is the record's message."""
    crash = sample("bot_stdout.log")[3]
    assert crash.message.startswith("[scan] user 1184729384756 scanning")
    assert crash.exc_type == "RuntimeError" and crash.level == ""


@pytest.mark.parametrize(("level", "logger", "message", "traceback", "kind"), [
    ("WARNING", "discord.client", "PyNaCl is not installed, voice will NOT be supported", "",
     LogKind.INFO),
    ("ERROR", "remi", "Scan failed", "", LogKind.ERROR),
    ("CRITICAL", "remi", "Database gone", "", LogKind.ERROR),
    ("WARNING", "discord.gateway", "Shard ID None heartbeat blocked for more than 10 seconds.",
     "", LogKind.HANG),
    ("WARNING", "discord.gateway", "Can't keep up, shard ID None websocket is 12.5s behind.", "",
     LogKind.HANG),
    ("WARNING", "discord.gateway",
     "Shard ID None has stopped responding to the gateway. Closing and restarting.", "",
     LogKind.HANG),
    ("INFO", "discord.gateway", "Shard ID None has connected to Gateway (Session ID: x).", "",
     LogKind.GATEWAY),
    ("INFO", "discord.gateway", "Shard ID None has successfully RESUMED session x.", "",
     LogKind.GATEWAY),
    ("INFO", "discord.gateway", "Shard ID None session has been invalidated.", "",
     LogKind.GATEWAY),
    ("INFO", "remi.scan", "user said: has connected to Gateway", "", LogKind.INFO),
    ("WARNING", "discord.http", "We are being rate limited. GET /x responded with 429. "
     "Retrying in 1.00 seconds.", "", LogKind.RATE_LIMIT),
    ("WARNING", "discord.http", "Global rate limit has been hit. Retrying in 1.00 seconds.", "",
     LogKind.RATE_LIMIT),
    ("WARNING", "discord.gateway", "WebSocket in shard ID None is ratelimited, waiting 1.00 "
     "seconds", "", LogKind.RATE_LIMIT),
    ("ERROR", "remi", "Improper token has been passed.", "", LogKind.FATAL_CONFIG),
    ("ERROR", "remi", "SoundCloud request timed out", "", LogKind.TIMEOUT),
    ("INFO", "remi", "request timed out (retrying)", "", LogKind.INFO),
    ("INFO", "remi", "Scanning 25 tracks", "Traceback (most recent call last):\n"
     '  File "/a/b.py", line 1, in f\n    g()\nValueError: x', LogKind.CRASH),
    ("ERROR", "remi", "x", "Traceback (most recent call last):\n"
     '  File "/a/b.py", line 1, in f\n    g()\nasyncio.exceptions.TimeoutError', LogKind.TIMEOUT),
    ("ERROR", "remi", "x", "Traceback (most recent call last):\n"
     '  File "/a/b.py", line 1, in f\n    g()\n'
     "discord.errors.ConnectionClosed: Shard ID None WebSocket closed with 4014",
     LogKind.FATAL_CONFIG),
    ("", "", "plain print line", "", LogKind.INFO),
])
def test_classification_table(level: str, logger: str, message: str, traceback: str,
                              kind: LogKind) -> None:
    """One row per rule of the classifier."""
    assert classify(level, logger, message, traceback) is kind


# --------------------------------------------------------------------------- tracebacks


def test_bare_traceback_without_header() -> None:
    """An interpreter-printed traceback is a record of its own."""
    text = ('Traceback (most recent call last):\n  File "/app/main.py", line 3, in <module>\n'
            "    main()\nValueError: bad\n")
    (record,) = parse(text)
    assert record.kind is LogKind.CRASH and record.message == "ValueError: bad"


def test_truncated_traceback_at_end_of_file_still_yields_a_record() -> None:
    """The file ends mid-traceback: flush() still returns the crash."""
    parser = LogParser()
    text = (DATA / "incident_plain.log").read_text()
    cut = text[:text.index("NameError")]  # before the exception line
    records = parser.feed(cut) + parser.flush()
    crash = records[-1]
    assert crash.kind is LogKind.CRASH and crash.exc_type == ""
    assert "scoring_async.py" in crash.traceback and crash.fingerprint


def test_traceback_cut_by_the_next_record() -> None:
    """A header in the middle of a traceback ends it; both records come out."""
    text = ("[2026-01-24 03:00:00] [ERROR   ] remi: boom\nTraceback (most recent call last):\n"
            '  File "/app/x.py", line 1, in f\n'
            "[2026-01-24 03:00:01] [INFO    ] remi: next\n")
    records = parse(text)
    assert kinds(records) == ["crash", "info"]


def test_two_tracebacks_in_a_row_are_two_records() -> None:
    """Interleaved: a second Traceback (no chain separator) starts a new record."""
    tb = ('Traceback (most recent call last):\n  File "/app/a.py", line 1, in f\n    f()\n'
          "{}\n")
    records = parse(tb.format("ValueError: one") + tb.format("KeyError: 'two'"))
    assert [r.exc_type for r in records] == ["ValueError", "KeyError"]


def test_orphan_frames_at_start_of_chunk() -> None:
    """A chunk that starts inside a traceback (its head was in the last chunk) still counts."""
    text = '  File "/app/a.py", line 9, in f\n    g()\nValueError: x\nnext line\n'
    records = parse(text)
    assert kinds(records) == ["crash", "info"] and records[0].exc_type == "ValueError"


def test_pending_record_survives_between_feeds() -> None:
    """Without flush, a traceback split over two feeds is one record."""
    parser = LogParser()
    lines = (DATA / "incident_plain.log").read_text().split("\n")
    first = parser.feed(lines[:10])
    rest = parser.feed(lines[10:]) + parser.flush()
    assert sum(r.kind is LogKind.CRASH for r in first + rest) == 1


def test_exception_group_traceback() -> None:
    """Python 3.11 exception groups parse to their top exception."""
    text = ("  + Exception Group Traceback (most recent call last):\n"
            '  |   File "/app/x.py", line 3, in <module>\n'
            "  |     raise ExceptionGroup('eg', [ValueError(1)])\n"
            "  | ExceptionGroup: eg (1 sub-exception)\n"
            "  +-+---------------- 1 ----------------\n"
            "    | ValueError: 1\n"
            "    +------------------------------------\n")
    blocks = parse_traceback(text)
    assert blocks[0].exc_type == "ExceptionGroup"
    assert blocks[0].frames[0].function == "<module>"


@pytest.mark.parametrize(("path", "in_app"), [
    ("/Users/remi/projects/remix-sniper/packages/core/analyzers/scoring_async.py", True),
    ("/Users/remi/projects/remix-sniper/venv/lib/python3.11/site-packages/discord/client.py",
     False),
    ("/usr/lib/python3/dist-packages/requests/api.py", False),
    ("/usr/lib/python3.11/asyncio/tasks.py", False),
    ("/opt/homebrew/Cellar/python@3.11/3.11.7/Frameworks/Python.framework/Versions/3.11/lib/"
     "python3.11/asyncio/base_events.py", False),
    ("<frozen runpy>", False),
    ("C:\\remi\\bot\\main.py", True),
    ("C:\\Python311\\Lib\\asyncio\\tasks.py", False),
])
def test_in_app(path: str, in_app: bool) -> None:
    """Library and standard-library frames are not Remi's code."""
    assert is_in_app(path) is in_app


def test_culprits() -> None:
    """Where it broke: the innermost in-app frame; for a hang, also the blocking call."""
    records = sample("incident_plain.log")
    crash = next(r for r in records if r.kind is LogKind.CRASH)
    hang = next(r for r in records if r.blocked_s == 850)
    assert culprit_of(crash, parse_traceback(crash.traceback)) == (
        "scoring_async.py in score_batch_async")
    assert culprit_of(hang, parse_traceback(hang.traceback)) == (
        "soundcloud_client.py in fetch_track → requests/api.py in get")


# --------------------------------------------------------------------------- fingerprints


def shift_lines(text: str, rng: random.Random) -> str:
    return re.sub(r"line \d+", lambda _: f"line {rng.randrange(1, 5000)}", text)


def test_incident_repeated_1001_times_at_shifted_lines_is_one_group() -> None:
    """1,001 NameErrors whose line numbers moved: one group, count 1001."""
    text = (DATA / "incident_plain.log").read_text()
    start = text.index("[2026-01-24 03:01:10]")
    end = text.index("[2026-01-24 03:02:10]")
    crash = text[start:end]
    rng = random.Random(5)
    log = "".join(shift_lines(crash, rng) for _ in range(1001))
    records = parse(log)
    assert len(records) == 1001
    assert len({r.traceback for r in records}) > 900  # the texts really differ
    aggregator = ErrorAggregator("remi", lambda s: s)
    result = aggregator.fold(records, NOW)
    (group,) = aggregator.groups()
    assert group.count == 1001 and result.new == (group.fingerprint,)
    assert group.title == NAME_ERROR
    assert group.culprit == "scoring_async.py in score_batch_async"
    assert group.kind is LogKind.CRASH


def test_different_code_paths_are_different_groups() -> None:
    """Same exception type, different in-app frame → another group."""
    tb = ('Traceback (most recent call last):\n  File "/app/{}.py", line 1, in f\n    g()\n'
          "KeyError: 'x'\n")
    a, b = parse(tb.format("scan") + tb.format("score"))
    assert a.fingerprint != b.fingerprint


def test_message_fingerprint_ignores_variable_parts() -> None:
    """Without a traceback, ids, numbers, urls and quoted strings do not split a group."""
    records = parse("".join(
        f"[2026-01-24 03:00:0{i}] [ERROR   ] remi.scan: Scan of https://soundcloud.com/u{i} "
        f"failed for user {1184729384756 + i} after {i}.5s: '{i}x'\n" for i in range(5)))
    assert len({r.fingerprint for r in records}) == 1
    assert normalize_message("user 123 at 0x7f3a2b1c took 3.5s, id "
                             "550e8400-e29b-41d4-a716-446655440000 ok") == (
        "user <int> at <hex> took <duration>, id <uuid> ok")


def test_fingerprint_text_matches_log_fingerprint() -> None:
    """A traceback in a scan test's output groups with the same traceback from the log."""
    crash = next(r for r in sample("basicconfig.log") if r.kind is LogKind.CRASH)
    output = "running /scan...\n" + crash.traceback + "\nexit 1\n"
    assert fingerprint_text(output) == crash.fingerprint
    assert fingerprint_text("all good") == ""


# --------------------------------------------------------------------------- groups


def record(fp_text: str, at: datetime | None, kind: LogKind = LogKind.ERROR) -> LogRecord:
    return parse(f"[{at:%Y-%m-%d %H:%M:%S}] [ERROR   ] remi: {fp_text}\n")[0] if at else \
        LogRecord(kind=kind, level="ERROR", message=fp_text, logger="remi")


def test_aggregator_counts_batches_and_reports_new() -> None:
    """Each fold describes its batch; new means never seen by this aggregator."""
    agg = ErrorAggregator("remi", lambda s: s)
    t0 = datetime(2026, 1, 24, 3, 0, tzinfo=UTC)
    first = agg.fold([record("db down", t0), record("db down", t0 + timedelta(seconds=5))], NOW)
    assert len(first.new) == 1 and first.groups[0].count == 2
    second = agg.fold([record("db down", t0 + timedelta(minutes=1))], NOW)
    assert second.new == () and second.groups[0].count == 1
    assert second.groups[0].first_seen == t0 + timedelta(minutes=1)
    (total,) = agg.groups()
    assert total.count == 3 and total.first_seen == t0
    assert total.last_seen == t0 + timedelta(minutes=1)


def test_aggregator_ignores_info_gateway_and_rate_limits() -> None:
    """Only CRASH/ERROR/FATAL_CONFIG/TIMEOUT/HANG become groups."""
    agg = ErrorAggregator("remi", lambda s: s)
    result = agg.fold(sample("incident_plain.log"), NOW)
    assert {g.kind for g in result.groups} == {LogKind.CRASH, LogKind.HANG}
    assert sum(g.count for g in result.groups) == 7


def test_aggregator_redacts_title_and_sample_and_bounds_sample() -> None:
    """What leaves the aggregator went through the injected redact, then was cut."""
    secret = "hunter2-very-secret"
    agg = ErrorAggregator("remi", lambda s: s.replace(secret, "[REDACTED:secret]"),
                          sample_limit=200)
    long_tb = ("Traceback (most recent call last):\n"
               + '  File "/app/x.py", line 1, in f\n    g()\n' * 50
               + f"ValueError: token {secret}\n")
    records = parse(f"[2026-01-24 03:00:00] [ERROR   ] remi: login {secret} failed\n" + long_tb)
    (group,) = agg.fold(records, NOW).groups
    assert secret not in group.title + group.sample
    assert len(group.sample) <= 200
    assert group.sample.endswith("ValueError: token [REDACTED:secret]")


def test_aggregator_uses_now_for_undated_records_and_seeds_known() -> None:
    """Bare tracebacks have no timestamp: ``now`` dates them; known groups are not new."""
    agg = ErrorAggregator("remi", lambda s: s)
    (rec,) = parse('Traceback (most recent call last):\n  File "/a.py", line 1, in f\n'
                   "    f()\nValueError: x\n")
    result = agg.fold([rec], NOW)
    assert result.groups[0].first_seen == NOW
    known = ErrorGroup(rec.fingerprint, "remi", "ValueError: x", LogKind.CRASH, 5, NOW, NOW,
                       "sample")
    seeded = ErrorAggregator("remi", lambda s: s, [known])
    assert seeded.fold([rec], NOW + timedelta(hours=1)).new == ()
    group = seeded.group(rec.fingerprint)
    assert group is not None
    assert group.count == 6
    untouched = ErrorAggregator("remi", lambda s: s, [known]).groups()
    assert untouched == (known,)


def test_timestamps_in_the_bots_zone_become_utc() -> None:
    """A log written in local time (UTC+1) is read back in UTC."""
    (rec,) = parse("[2026-01-24 04:00:00] [ERROR   ] remi: x\n",
                   tz=timezone(timedelta(hours=1)))
    assert rec.at == datetime(2026, 1, 24, 3, 0, tzinfo=UTC)
    (bad,) = parse("[2026-13-45 99:00:00] [ERROR   ] remi: x\n")
    assert bad.at is None


def test_keep_info_false_drops_info_only() -> None:
    """keep_info=False yields the same records minus INFO ones, line by line or in bulk."""
    text = (DATA / "incident_ansi.log").read_text()
    full = [r for r in parse(text) if r.kind is not LogKind.INFO]
    assert parse(text, keep_info=False) == full
    parser = LogParser(keep_info=False)
    assert parser.feed_bytes(text.encode()) + parser.flush() == full


def test_aggregator_memory_is_bounded() -> None:
    """Past max_groups, the groups seen longest ago are forgotten (the store keeps them)."""
    agg = ErrorAggregator("remi", lambda s: s, max_groups=10)
    t0 = datetime(2026, 1, 24, 3, 0, tzinfo=UTC)
    for i in range(30):
        tb = (f'Traceback (most recent call last):\n  File "/app/m{i}.py", line 1, in f\n'
              f"    f()\nValueError: x\n")
        agg.fold(parse(tb), t0 + timedelta(minutes=i))
    groups = agg.groups()
    assert len(groups) <= 11
    assert groups[0].last_seen == t0 + timedelta(minutes=29)
