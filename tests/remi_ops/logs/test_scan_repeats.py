"""A record that repeats but for its timestamp is counted from what it was counted as the
first time (remi_ops.logs.repeats), and the groups stay those of the line-by-line parser:
same header line with other bodies, a body that is the start of another, a repeat whose
next line is not a header, repeats cut by a block's end, other stamps and layouts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remi_ops.logs import fullscan, repeats
from remi_ops.logs.fullscan import scan_file
from remi_ops.logs.repeats import MIN_LOOKUPS, WINDOWS_OFF, RepeatedRecords
from tests.remi_ops.logs.test_scan_full import assert_same, calls_of, job, present_path

STAMPS = st.sampled_from(("2026-01-24 03:00:07", "2026-01-24T03:00:09", "2026-01-24 03:00:01",
                          "2026-01-24 03:01:00", "2026-01-23 23:59:59"))
HEADER_LINES = st.sampled_from((
    "[{}] [ERROR   ] remi.scoring: Scoring failed",
    "[{}] [ERROR   ] remi.scoring: Scoring failed\r",
    "[{}] [WARNING ] discord.http: We are being rate limited. responded with 429.",
    "[{}] [ERROR   ] remi.scan: read timed out",
    "[{}] [INFO    ] discord.gateway: Shard ID None has successfully RESUMED session abc.",
    "[{}] [INFO    ] remi.scan: Scanning 3 tracks",
    "[{}] [CRITICAL] discord.client: Improper token has been passed.",
    "[{}] [ERROR   ] remi.scan:",
    "[{}] [ERROR   ] \x1b[31mremi.scan\x1b[0m: coloured",
    "ERROR:remi.scan:basic layout {}",
))
BODY_LINES = st.sampled_from((
    "Traceback (most recent call last):", '  File "/app/x.py", line 3, in f',
    '  File "/app/x.py", line 4, in f', "    f()", "KeyError: 'track:1'", "KeyError: 'track:2'",
    "RuntimeError: cache is corrupt", "TimeoutError", "",
    "During handling of the above exception, another exception occurred:",
    "printed by a bot", "LoginFailure: Improper token has been passed.", "[not a header]",
    "2026-01-24 03:00:07 also not one",
    # 22 bytes that are not a stamp, then what follows one in a header line above
    "x" * 21 + " [ERROR   ] remi.scan: read timed out"))


def record(stamp: str, header: str, body: list[str]) -> str:
    return "".join(line + "\n" for line in [header.format(stamp), *body])


RECORDS = st.builds(record, STAMPS, HEADER_LINES, st.lists(BODY_LINES, max_size=6))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.sampled_from(range(8)), max_size=80), st.lists(RECORDS, min_size=1,
                                                                   max_size=8),
       st.sampled_from((200, 700, 4096)))
def test_repeated_records_give_the_line_by_line_groups(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, picks: list[int],
        records: list[str], block: int) -> None:
    """A few records, each repeated in any order (blocks small enough to cut repeats)."""
    monkeypatch.setattr(fullscan, "BLOCK_BYTES", block)
    path = tmp_path / f"r{time.monotonic_ns()}.log"
    path.write_text("".join(records[i % len(records)] for i in picks), encoding="utf-8")
    assert_same(scan_file(job(path)), present_path(path))


def test_a_repeated_record_is_decided_once(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """3000 tracebacks of three kinds, timestamps moving on: each kind is parsed and decided
    once, the other occurrences counted from that."""
    bodies = ("KeyError: 'track:1'", "KeyError: 'track:2'", "TimeoutError")
    text = "".join(
        record(f"2026-01-24 03:{i // 60 % 60:02d}:{i % 60:02d}",
               "[{}] [ERROR   ] remi.scoring: Scoring failed",
               ["Traceback (most recent call last):", '  File "/app/x.py", line 3, in f',
                bodies[i % 3]])
        + f"[2026-01-24 03:00:00] [INFO    ] remi.scan: Scanning {i} tracks\n"
        for i in range(3000))
    path = tmp_path / "repeats.log"
    path.write_text(text, encoding="utf-8")
    decided = calls_of(monkeypatch, "_count")
    summary = scan_file(job(path))
    assert summary.records == 3000
    assert len(decided) <= 3 * 2  # once per kind, again in a block that forgot them at most
    monkeypatch.undo()
    assert_same(summary, present_path(path))


def test_a_window_of_unique_records_turns_the_memo_off_for_a_while() -> None:
    memo = RepeatedRecords()
    assert memo.in_use()
    memo.remember(b"x\n", b"", None)
    memo.lookups, memo.hits = MIN_LOOKUPS, MIN_LOOKUPS // 8  # few repeats: not worth it
    assert not memo.in_use()
    assert memo.get(b"x\n") is None  # forgotten while off
    assert [memo.in_use() for _ in range(WINDOWS_OFF)] == [False] * (WINDOWS_OFF - 1) + [True]
    memo.lookups, memo.hits = MIN_LOOKUPS, MIN_LOOKUPS // 2  # repeats again: kept on
    assert memo.in_use()
    assert memo.in_use()  # nothing looked up: nothing to judge


def test_memory_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(repeats, "MAX_ENTRIES", 4)
    memo = RepeatedRecords()
    for i in range(10):
        memo.remember(b"line %d\n" % i, b"", None)
    for i in range(repeats.MAX_BODIES + 3):
        memo.remember(b"same\n", b"body %d\n" % i, None)
    memo.remember(b"long\n", b"x" * repeats.MAX_RECORD_BYTES, None)
    assert memo.get(b"long\n") is None
    assert len(memo.get(b"same\n") or ()) == repeats.MAX_BODIES
    assert sum(memo.get(b"line %d\n" % i) is not None for i in range(10)) <= 4


def test_a_line_that_only_ends_like_a_header_seen_before_is_not_one(tmp_path: Path) -> None:
    """The memo is keyed by what follows the stamp: a continuation line that has the same
    bytes after 22 others is still part of the record above it."""
    header = "[{}] [ERROR   ] remi.scan: read timed out"
    lookalike = "x" * 21 + " [ERROR   ] remi.scan: read timed out"
    path = tmp_path / "lookalike.log"
    path.write_text(record("2026-01-24 03:00:07", header, [])
                    + record("2026-01-24 03:00:08", "[{}] [INFO    ] remi.scan: Scanning",
                             [lookalike])
                    + record("2026-01-24 03:00:09", header, []), encoding="utf-8")
    assert_same(scan_file(job(path)), present_path(path))
