"""Benchmark: full scan of a big log (tailer + parser + aggregator) vs ``grep -c``; and the
cost of one incremental check after 1 KB was appended.

    .venv/bin/python bench/bench_logscan.py --size-mb 1024

The log is generated once under ``bench/out/`` (gitignored) with realistic discord.py
records, Remi's own INFO lines and ~1 % tracebacks (the incident's NameError among them).
Prints a compact table; not a test.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from remi_ops.logs.error_groups import ErrorAggregator, LogParser
from remi_ops.logs.redact import Redactor
from remi_ops.logs.tail import LogPosition, Tailer

OUT = Path(__file__).resolve().parent / "out"
VERSION = "v3"
MB = 1024 * 1024
NOW = datetime(2026, 1, 24, 12, 0, tzinfo=UTC)
SITE = "/Users/remi/projects/remix-sniper/venv/lib/python3.11/site-packages"
APP = "/Users/remi/projects/remix-sniper/packages"

INFO = (
    "remi.scan: Scanning {n} tracks for user {uid}",
    "remi.soundcloud: fetched track {tid} in {f:.2f}s",
    "remi.scoring: scored {n} tracks (top {f:.2f}) in {f2:.1f}s",
    "remi.scan: /scan by {uid} in guild {gid} finished: {n} candidates",
    "remi.cache: cache hit for key track:{tid}",
)
TRACEBACKS = (
    """[{ts}] [ERROR   ] discord.app_commands.tree: Ignoring exception in command 'scan'
Traceback (most recent call last):
  File "{site}/discord/app_commands/commands.py", line 859, in _do_call
    return await self._callback(interaction, **params)  # type: ignore
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "{app}/bot/cogs/scan.py", line {l1}, in scan
    results = await score_batch_async(tracks)
              ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "{app}/core/analyzers/scoring_async.py", line {l2}, in score_batch_async
    return await asyncio.gather(*tasks)
                 ^^^^^^^
NameError: name 'asyncio' is not defined

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "{site}/discord/app_commands/tree.py", line 1310, in _call
    await command._invoke_with_namespace(interaction, namespace)
  File "{site}/discord/app_commands/commands.py", line 883, in _invoke_with_namespace
    return await self._do_call(interaction, transformed_values)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "{site}/discord/app_commands/commands.py", line 877, in _do_call
    raise CommandInvokeError(self, e) from e
discord.app_commands.errors.CommandInvokeError: Command 'scan' raised an exception: \
NameError: name 'asyncio' is not defined
""",
    """[{ts}] [ERROR   ] remi.scan: Enrichment timed out after 120s
Traceback (most recent call last):
  File "{app}/core/pipeline.py", line {l1}, in enrich_tracks
    return await asyncio.wait_for(fetch_all(track_ids), timeout=120)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/asyncio/tasks.py", line 502, in wait_for
    raise exceptions.TimeoutError() from exc
TimeoutError
""",
    """[{ts}] [ERROR   ] remi.scoring: Scoring failed for track {tid}
Traceback (most recent call last):
  File "{app}/core/pipeline.py", line {l1}, in score_from_cache
    return cache[f"track:{{track_id}}"]
           ~~~~~^^^^^^^^^^^^^^^^^^^^^
KeyError: 'track:{tid}'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "{app}/core/pipeline.py", line {l2}, in score_from_cache
    raise RuntimeError("cache is corrupt")
RuntimeError: cache is corrupt
""",
)


def _line(rng: random.Random, ts: str, tb_rate: float = 0.01) -> str:
    """One record: ``tb_rate`` tracebacks, 0.1 % rate-limit warnings, 0.05 % resumes,
    0.1 % errors without traceback; the rest Remi's own INFO/DEBUG lines."""
    roll = rng.random()
    v = {"ts": ts, "n": rng.randrange(1, 50), "uid": rng.randrange(10**17, 10**18),
         "gid": rng.randrange(10**17, 10**18), "tid": rng.randrange(10**8, 10**10),
         "f": rng.random() * 3, "f2": rng.random() * 9, "site": SITE, "app": APP,
         # line numbers change only when Remi's code does: a few deploys' worth
         "l1": rng.choice((42, 42, 42, 57)), "l2": rng.choice((15, 15, 23))}
    if roll < tb_rate:
        return rng.choice(TRACEBACKS).format(**v)
    roll = 0.5 if roll < 0.01 else roll  # below the default rate: an ordinary INFO line
    if roll < 0.011:
        return ("[{ts}] [WARNING ] discord.http: We are being rate limited. POST "
                "https://discord.com/api/v10/channels/{uid}/messages responded with 429. "
                "Retrying in {f:.2f} seconds.\n").format(**v)
    if roll < 0.0115:
        return ("[{ts}] [INFO    ] discord.gateway: Shard ID None has successfully RESUMED "
                "session 8c3f5e6b2d9a4f1e0b7c6d5a4e3f2a1b.\n").format(**v)
    if roll < 0.0125:
        return ("[{ts}] [ERROR   ] remi.scan: Scan of track {tid} failed: no stream URL\n"
                .format(**v))
    level = "DEBUG   " if roll > 0.95 else "INFO    "
    return f"[{ts}] [{level}] " + rng.choice(INFO).format(**v) + "\n"


def generate(path: Path, size: int, seed: int = 1, tb_rate: float = 0.01) -> None:
    """Write ``size`` bytes of log (cached by name; regenerated when missing)."""
    if path.exists() and path.stat().st_size >= size:
        return
    rng = random.Random(seed)
    t = datetime(2026, 1, 1, tzinfo=UTC)
    tmp = path.with_suffix(".tmp")
    written = 0
    with open(tmp, "w", encoding="utf-8") as f:
        while written < size:
            block = []
            for _ in range(20000):
                t += timedelta(milliseconds=rng.randrange(1, 400))
                block.append(_line(rng, t.strftime("%Y-%m-%d %H:%M:%S"), tb_rate))
            text = "".join(block)
            f.write(text)
            written += len(text.encode())
    tmp.replace(path)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (grep)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def median_time(fn: Callable[[], object], runs: int) -> tuple[float, float, object]:
    """Median wall-clock and CPU seconds of ``runs`` calls, and the last result.

    CPU time is printed too: on a shared machine it moves less than wall-clock time.
    """
    walls, cpus, result = [], [], None
    for _ in range(runs):
        start, cpu = time.perf_counter(), _cpu()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(_cpu() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def full_scan(path: Path) -> tuple[int, int]:
    """Tailer from offset 0 + fast parser + aggregator; returns (records, groups)."""
    st = path.stat()
    tailer = Tailer(path, LogPosition(str(path), st.st_dev, st.st_ino, 0))
    parser = LogParser(source="stderr", keep_info=False)
    aggregator = ErrorAggregator("remi", Redactor(()))
    records = 0
    while True:
        chunk = tailer.read_new(max_bytes=4 * MB)  # one read block: no joining copies
        batch = parser.feed_bytes(chunk.data)
        if not chunk.more:
            batch += parser.flush()
        records += len(batch)
        aggregator.fold(batch, NOW)
        if not chunk.more:
            break
    return records, len(aggregator.groups())


def full_scan_lines(path: Path) -> int:
    """The line-by-line parser (every record, INFO included), for comparison."""
    st = path.stat()
    tailer = Tailer(path, LogPosition(str(path), st.st_dev, st.st_ino, 0))
    parser = LogParser(source="stderr")
    n = 0
    while True:
        chunk = tailer.read_new(max_bytes=64 * MB)
        n += len(parser.feed(chunk.lines))
        if not chunk.more:
            return n + len(parser.flush())


def grep_count(path: Path) -> int:
    grep = shutil.which("grep") or "grep"
    out = subprocess.run([grep, "-c", "Traceback", str(path)], capture_output=True, text=True,
                         check=False)
    return int(out.stdout.strip() or 0)


def incremental(path: Path, runs: int) -> float:
    """Median cost of one check (read_new + parse + fold) after appending 1 KB."""
    original = path.stat().st_size
    st = path.stat()
    tailer = Tailer(path, LogPosition(str(path), st.st_dev, st.st_ino, original))
    parser = LogParser(source="stderr")
    aggregator = ErrorAggregator("remi", Redactor(()))
    rng = random.Random(7)
    times = []
    try:
        for i in range(runs):
            text = ""
            while len(text) < 1024:
                text += _line(rng, f"2026-02-01 00:00:{i % 60:02d}")
            with open(path, "a", encoding="utf-8") as f:
                f.write(text)
            start = time.perf_counter()
            chunk = tailer.read_new()
            records = parser.feed(chunk.lines) + parser.flush()
            aggregator.fold(records, NOW)
            times.append(time.perf_counter() - start)
    finally:
        os.truncate(path, original)
    return statistics.median(times)


def warm(path: Path) -> None:
    with open(path, "rb", buffering=0) as f:
        while f.read(64 * MB):
            pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--small-mb", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--incremental-runs", type=int, default=20)
    ap.add_argument("--traceback-rate", type=float, default=0.01,
                    help="share of records that are tracebacks (default 0.01)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    rate = "" if args.traceback_rate == 0.01 else f"_tb{args.traceback_rate:g}"
    big = OUT / f"logscan_{VERSION}_{args.size_mb}mb{rate}.log"
    small = OUT / f"logscan_{VERSION}_{args.small_mb}mb{rate}.log"
    t0 = time.perf_counter()
    generate(big, args.size_mb * MB, tb_rate=args.traceback_rate)
    generate(small, args.small_mb * MB, tb_rate=args.traceback_rate)
    print(f"log files ready in {time.perf_counter() - t0:.1f}s: {big.name}, {small.name}")
    warm(big)
    size_mb = big.stat().st_size / MB
    small_mb = small.stat().st_size / MB
    t_grep, c_grep, n_tb = median_time(lambda: grep_count(big), args.runs)
    t_scan, c_scan, result = median_time(lambda: full_scan(big), args.runs)
    records, groups = result  # type: ignore[misc]
    t_lines, c_lines, n_lines = median_time(lambda: full_scan_lines(small), args.runs)
    inc_small = incremental(small, args.incremental_runs)
    inc_big = incremental(big, args.incremental_runs)
    rows = [
        ("grep -c Traceback", size_mb, t_grep, c_grep, f"{n_tb} lines"),
        ("full scan (tailer+fast parser+groups)", size_mb, t_scan, c_scan,
         f"{records} records, {groups} groups"),
        ("line-by-line parser (all records)", small_mb, t_lines, c_lines, f"{n_lines} records"),
    ]
    print(f"\n{'what':40s} {'size':>8s} {'wall s':>8s} {'MB/s':>6s} {'cpu s':>8s} {'MB/s':>6s}"
          "  result")
    for what, mb, wall, cpu, res in rows:
        print(f"{what:40s} {mb:6.0f}MB {wall:8.3f} {mb / wall:6.0f} {cpu:8.3f} "
              f"{mb / max(cpu, 1e-9):6.0f}  {res}")
    print(f"\nfull scan / grep: {t_scan / t_grep:.2f}x wall-clock, "
          f"{c_scan / max(c_grep, 1e-9):.2f}x CPU  (goal: within 4x; medians of {args.runs})")
    print(f"\n{'incremental check after +1 KB':40s} {'file':>8s} {'median ms':>10s}")
    print(f"{'read_new + parse + fold':40s} {small_mb:>6.0f}MB {inc_small * 1000:10.3f}")
    print(f"{'read_new + parse + fold':40s} {size_mb:>6.0f}MB {inc_big * 1000:10.3f}")
    print(f"(median of {args.incremental_runs}; goal < 5 ms and flat in file size)")


if __name__ == "__main__":
    main()
