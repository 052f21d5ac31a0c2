"""Parsing and classification, on real log samples: records, their kinds and bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from bubabot_local.logkit import DATA, kinds, parse, sample

from remi_ops.domain import LogKind
from remi_ops.logs.error_groups import LogParser, classify, gateway_state, parse_traceback

# --------------------------------------------------------------------------- samples


SAMPLE_KINDS = {
    "incident_plain.log": ["info", "info", "info", "gateway", "crash", "hang", "hang", "hang",
                           "latency", "hang", "hang", "rate_limit", "gateway", "rate_limit",
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
    assert [r.blocked_s for r in hangs] == [10.0, 20.0, 30.0, None, 850.0]
    behind = [r for r in sample("incident_plain.log") if r.kind is LogKind.LATENCY]
    assert [r.blocked_s for r in behind] == [31.4]  # "Can't keep up": seconds behind
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
     LogKind.LATENCY),
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
