"""Tracebacks: their grammar, whose code broke, and fingerprints that group repeats."""

from __future__ import annotations

import random
import re

import pytest
from bubabot_local.logkit import DATA, NAME_ERROR, NOW, parse, sample

from remi_ops.domain import LogKind
from remi_ops.logs.error_groups import (
    ErrorAggregator,
    culprit_of,
    fingerprint_text,
    is_in_app,
    normalize_message,
    parse_traceback,
)
from remi_ops.logs.redact import redact_patterns


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
    aggregator = ErrorAggregator("remi", redact_patterns)
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
