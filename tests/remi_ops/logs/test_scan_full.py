"""A whole log scanned into error groups (one process or several) equals the present
path: the line-by-line parser folded into an ErrorAggregator, on the sample logs, on a
bigger log made of them, and on arbitrary lines cut into ranges anywhere a record starts."""

from __future__ import annotations

import itertools
import random
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from bubabot_local.logkit import DATA, NOW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remi_ops.domain import LogKind
from remi_ops.logs import fullscan
from remi_ops.logs.error_groups import ErrorAggregator, LogParser
from remi_ops.logs.fullscan import (
    ScanJob,
    ScanSummary,
    header_at_or_after,
    merge,
    scan_file,
    scan_range,
    split_points,
)
from remi_ops.logs.group_counts import GroupCounts
from remi_ops.logs.headers import clean_line, parse_header
from remi_ops.logs.redact import Redactor

SAMPLES = sorted(p.name for p in DATA.glob("*.log"))
KEY_ERROR = """[{ts}] [ERROR   ] remi.scoring: Scoring failed for track {tid}
Traceback (most recent call last):
  File "/Users/remi/projects/remix-sniper/packages/core/pipeline.py", line 42, in score
    return cache[f"track:{{track_id}}"]
KeyError: 'track:{tid}'
"""
INFO = "[{ts}] [INFO    ] remi.scan: Scanning {n} tracks for user {tid}\n"


def present_path(path: Path) -> ScanSummary:
    """The line-by-line parser (every record) and the aggregator: what the scan must equal."""
    data = path.read_bytes()
    lines = data.decode("utf-8", "replace").split("\n")[:-1]  # an unfinished line waits
    parser = LogParser(source="stderr")
    records = [r for r in parser.feed(lines) + parser.flush() if r.kind is not LogKind.INFO]
    aggregator = ErrorAggregator("remi", Redactor(()))
    order = aggregator.fold(records, NOW).new
    return ScanSummary(len(records), order,
                       {fp: g for fp in order if (g := aggregator.group(fp)) is not None})


def job(path: Path) -> ScanJob:
    return ScanJob(path, "remi", Redactor(()), NOW)


def calls_of(monkeypatch: pytest.MonkeyPatch, method: str) -> list[None]:
    """A list that grows by one at each call of ``LogParser.<method>`` (which still runs)."""
    calls: list[None] = []
    original = getattr(LogParser, method)

    def counting(self: LogParser, *args: object) -> object:
        calls.append(None)
        return original(self, *args)

    monkeypatch.setattr(LogParser, method, counting)
    return calls


def assert_same(got: ScanSummary, expected: ScanSummary) -> None:
    assert got.records == expected.records
    assert got.order == expected.order
    assert got.groups == expected.groups  # counts, first/last seen, titles, samples


def bigger_log(path: Path, repeats: int, seed: int = 3) -> None:
    """The sample logs shuffled together with INFO lines and KeyErrors whose track id
    differs every time (the shape cache's case), timestamps moving forward."""
    rng = random.Random(seed)
    samples = [(DATA / name).read_text(encoding="utf-8") for name in SAMPLES]
    at = NOW - timedelta(days=2)
    parts = []
    for _ in range(repeats):
        at += timedelta(seconds=rng.randrange(1, 90))
        ts = at.strftime("%Y-%m-%d %H:%M:%S")
        roll = rng.random()
        if roll < 0.05:
            parts.append(rng.choice(samples))
        elif roll < 0.3:
            parts.append(KEY_ERROR.format(ts=ts, tid=rng.randrange(10**8, 10**10)))
        else:
            parts.append(INFO.format(ts=ts, n=rng.randrange(50), tid=rng.randrange(10**9)))
    path.write_text("".join(parts), encoding="utf-8")


@pytest.mark.parametrize("name", SAMPLES)
def test_each_sample_log_gives_the_present_groups(name: str) -> None:
    path = DATA / name
    expected = present_path(path)
    assert_same(scan_file(job(path)), expected)
    # cut anywhere a record starts, the ranges merge into the same groups
    starts = [i for i in range(1, path.stat().st_size) if _header_starts(path, i)]
    for cut in starts[:: max(1, len(starts) // 6)]:
        size = path.stat().st_size
        assert_same(merge([scan_range(job(path), 0, cut), scan_range(job(path), cut, size)]),
                    expected)


def _header_starts(path: Path, offset: int) -> bool:
    data = path.read_bytes()
    if data[offset - 1:offset] != b"\n":
        return False
    line = data[offset:data.find(b"\n", offset)].decode("utf-8", "replace")
    return parse_header(clean_line(line)) is not None


def test_a_bigger_log_in_two_processes_gives_the_present_groups(tmp_path: Path) -> None:
    """Real worker processes (the size threshold lowered), cuts at header lines."""
    path = tmp_path / "big.log"
    bigger_log(path, repeats=4000)
    expected = present_path(path)
    assert expected.records > 1000 and len(expected.order) > 10
    size = path.stat().st_size
    cuts = split_points(path, size, 2)
    assert len(cuts) == 1 and size // 2 <= cuts[0] < size
    assert_same(scan_file(job(path), workers=2, min_parallel_bytes=0), expected)
    assert_same(scan_file(job(path), workers=3, min_parallel_bytes=0), expected)
    assert_same(scan_file(job(path)), expected)


def test_with_another_thread_running_workers_do_not_fork_from_it(tmp_path: Path) -> None:
    """A watcher has threads: the workers then come from a forkserver, same groups."""
    path = tmp_path / "big.log"
    bigger_log(path, repeats=500)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        assert fullscan._context().get_start_method() != "fork"
        assert_same(scan_file(job(path), workers=2, min_parallel_bytes=0), present_path(path))
    finally:
        stop.set()
        other.join()


def test_a_cut_point_is_a_header_line_not_a_traceback_line(tmp_path: Path) -> None:
    """Past the middle of a traceback the next cut is the next record's header."""
    path = tmp_path / "tb.log"
    path.write_text(KEY_ERROR.format(ts="2026-01-24 03:00:00", tid=1) * 2, encoding="utf-8")
    second = len(KEY_ERROR.format(ts="2026-01-24 03:00:00", tid=1).encode())
    with open(path, "rb") as f:
        assert header_at_or_after(f, 10) == second
        assert header_at_or_after(f, second) == second
        assert header_at_or_after(f, second + 1) is None


def test_small_files_stay_in_one_process(tmp_path: Path) -> None:
    """Below the threshold no worker is started (nothing to split, same result)."""
    path = tmp_path / "small.log"
    bigger_log(path, repeats=50)
    start = time.perf_counter()
    assert_same(scan_file(job(path), workers=2), present_path(path))
    assert split_points(path, path.stat().st_size, 1) == []
    assert time.perf_counter() - start < 30  # generous: only a hang would fail this


HEADERS = st.builds(
    "[2026-01-24 03:00:{:02d}] [{}] {}: {}".format, st.integers(0, 59),
    st.sampled_from(("INFO    ", "ERROR   ", "WARNING ", "DEBUG   ", "CRITICAL")),
    st.sampled_from(("remi.scan", "discord.gateway", "discord.http")),
    st.sampled_from(("Scanning 3 tracks", "failed for track 7", "Improper token has been passed.",
                     "Shard ID None has successfully RESUMED session abc.",
                     "We are being rate limited. responded with 429.", "read timed out", "")))
TB_LINES = st.sampled_from(("Traceback (most recent call last):",
                            '  File "/app/x.py", line 3, in f', "    f()", "KeyError: 'track:1'",
                            "KeyError: 'track:2'",
                            "RuntimeError: cache is corrupt", "TimeoutError", "",
                            "During handling of the above exception, another exception occurred:",
                            "printed by a bot", "LoginFailure: Improper token has been passed."))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(HEADERS, TB_LINES), max_size=60),
       cut_at=st.lists(st.integers(0, 60), max_size=3))
def test_ranges_cut_at_any_headers_merge_into_the_present_groups(
        tmp_path: Path, lines: list[str], cut_at: list[int]) -> None:
    path = tmp_path / f"p{time.monotonic_ns()}.log"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    offsets, pos = [], 0
    for line in lines:
        if parse_header(line) is not None and pos > 0:
            offsets.append(pos)
        pos += len(line.encode()) + 1
    cuts = sorted({offsets[i % len(offsets)] for i in cut_at} if offsets else set())
    bounds = [0, *cuts, pos]
    parts = [scan_range(job(path), a, b) for a, b in itertools.pairwise(bounds)]
    assert_same(merge(parts), present_path(path))


def test_group_counts_are_bounded_like_the_aggregator(tmp_path: Path) -> None:
    """Past max_groups the groups seen longest ago are forgotten, as the aggregator does."""
    text = "".join(f"[2026-01-24 03:00:{i:02d}] [ERROR   ] remi.scan: failure kind {chr(65 + i)}\n"
                   for i in range(6))
    parser = LogParser()
    records = parser.feed(text) + parser.flush()
    counts = GroupCounts(max_groups=2)
    counts.add(records, NOW)
    aggregator = ErrorAggregator("remi", Redactor(()), max_groups=2)
    aggregator.fold(records, NOW)
    kept = counts.groups("remi", Redactor(()))
    assert len(kept) == 2
    assert tuple(sorted(kept.values(), key=lambda g: g.last_seen, reverse=True)) \
        == aggregator.groups()
