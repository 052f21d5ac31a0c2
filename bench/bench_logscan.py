"""Benchmark: full scan of a big log into error groups vs ``grep -c Traceback`` on the same
file in the same run (CPU and wall time, one core and two), the equality of the groups with
the line-by-line parser, and the cost of one incremental check after 1 KB was appended.

    .venv/bin/python bench/bench_logscan.py --size-mb 1024

The logs are generated into a fresh directory under the system's temp dir (``--dir`` to
choose one; deleted afterwards unless ``--keep``) with realistic discord.py records, Remi's
own INFO lines and ~1 % tracebacks (the incident's NameError among them). Prints medians of
``--runs`` runs, the ratios to grep and the load average (a shared machine moves wall time).
Goals (issue 12): <= 5x grep CPU on one core, <= 3x grep wall using both cores, the
incremental check flat in file size. Not a test.
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
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from remi_ops.domain import LogKind
from remi_ops.logs.error_groups import ErrorAggregator, LogParser
from remi_ops.logs.fullscan import ScanJob, ScanSummary, scan_file
from remi_ops.logs.redact import Redactor
from remi_ops.logs.tail import LogPosition, Tailer

#: where bench_discord.py keeps its copy of the big log (this benchmark writes to a temp dir)
OUT = Path(__file__).resolve().parent / "out"
VERSION = "v3"
MB = 1024 * 1024
T = TypeVar("T")
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


def median_time(fn: Callable[[], T], runs: int) -> tuple[float, float, T]:
    """Median wall-clock and CPU seconds of ``runs`` calls, and the last result.

    CPU time is printed too: on a shared machine it moves less than wall-clock time.
    """
    walls, cpus = [], []
    for _ in range(runs):
        start, cpu = time.perf_counter(), _cpu()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(_cpu() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def line_by_line_groups(path: Path) -> ScanSummary:
    """The reference: the line-by-line parser (every record decoded and parsed) folded into
    an ErrorAggregator, the path the property tests compare the fast one with."""
    st = path.stat()
    tailer = Tailer(path, LogPosition(str(path), st.st_dev, st.st_ino, 0))
    parser = LogParser(source="stderr")
    aggregator = ErrorAggregator("remi", Redactor(()))
    records, order = 0, list[str]()
    while True:
        chunk = tailer.read_new(max_bytes=64 * MB)
        batch = [r for r in parser.feed(chunk.lines) if r.kind is not LogKind.INFO]
        if not chunk.more:
            batch += [r for r in parser.flush() if r.kind is not LogKind.INFO]
        records += len(batch)
        order += aggregator.fold(batch, NOW).new
        if not chunk.more:
            break
    groups = {fp: g for fp in order if (g := aggregator.group(fp)) is not None}
    return ScanSummary(records, tuple(order), groups)


def scan(path: Path, workers: int) -> ScanSummary:
    """The full scan into groups (remi_ops.logs.fullscan) with one process or more."""
    return scan_file(ScanJob(path, "remi", Redactor(()), NOW), workers=workers)


def same_groups(a: ScanSummary, b: ScanSummary) -> bool:
    return a.records == b.records and a.order == b.order and a.groups == b.groups


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
    ap.add_argument("--small-mb", type=int, default=10,
                    help="the small log: incremental check and the equality check")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--incremental-runs", type=int, default=20)
    ap.add_argument("--equality-on-big", action="store_true",
                    help="also compare with the line-by-line parser on the big log (slow)")
    ap.add_argument("--traceback-rate", type=float, default=0.01,
                    help="share of records that are tracebacks (default 0.01)")
    ap.add_argument("--dir", type=Path, default=None,
                    help="where to write the logs (default: a new temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the generated logs")
    args = ap.parse_args()
    out = args.dir or Path(tempfile.mkdtemp(prefix="bench_logscan_"))
    out.mkdir(parents=True, exist_ok=True)
    rate = "" if args.traceback_rate == 0.01 else f"_tb{args.traceback_rate:g}"
    big = out / f"logscan_{VERSION}_{args.size_mb}mb{rate}.log"
    small = out / f"logscan_{VERSION}_{args.small_mb}mb{rate}.log"
    try:
        run(args, big, small)
    finally:
        if not args.keep:
            for path in (big, small):
                path.unlink(missing_ok=True)
            if args.dir is None:
                shutil.rmtree(out, ignore_errors=True)


def run(args: argparse.Namespace, big: Path, small: Path) -> None:
    t0 = time.perf_counter()
    generate(big, args.size_mb * MB, tb_rate=args.traceback_rate)
    generate(small, args.small_mb * MB, tb_rate=args.traceback_rate)
    print(f"log files ready in {time.perf_counter() - t0:.1f}s: {big}, {small.name}")
    print(f"load average at start: {_load()}")
    warm(big)
    size_mb, small_mb = big.stat().st_size / MB, small.stat().st_size / MB
    runs = args.runs
    t_grep, c_grep, n_tb = median_time(lambda: grep_count(big), runs)
    t_one, c_one, one = median_time(lambda: scan(big, 1), runs)
    t_two, c_two_process, two = median_time(lambda: scan(big, 2), runs)
    c_two = two.cpu_s  # the workers' CPU (rusage cannot see a forkserver's children)
    t_ref, c_ref, ref = median_time(lambda: line_by_line_groups(small), 1)
    t_sm, c_sm, small_one = median_time(lambda: scan(small, 1), runs)
    print(f"load average after the scans: {_load()}")
    rows = [
        ("grep -c Traceback", size_mb, t_grep, c_grep, f"{n_tb} lines"),
        ("full scan into groups, one core", size_mb, t_one, c_one, _result(one)),
        ("full scan into groups, two cores", size_mb, t_two, c_two, _result(two)),
        ("full scan, one core (small log)", small_mb, t_sm, c_sm, _result(small_one)),
        ("line-by-line parser (reference)", small_mb, t_ref, c_ref, _result(ref)),
    ]
    print(f"\n{'what':36s} {'size':>8s} {'wall s':>8s} {'MB/s':>6s} {'cpu s':>8s} {'MB/s':>6s}"
          "  result")
    for what, mb, wall, cpu, res in rows:
        print(f"{what:36s} {mb:6.0f}MB {wall:8.3f} {mb / wall:6.0f} {cpu:8.3f} "
              f"{mb / max(cpu, 1e-9):6.0f}  {res}")
    grep_cpu = max(c_grep, 1e-9)
    print(f"\none core / grep:  {t_one / t_grep:5.2f}x wall, {c_one / grep_cpu:5.2f}x CPU"
          f"   (goal: <= 5x CPU)")
    print(f"two cores / grep: {t_two / t_grep:5.2f}x wall, {c_two / grep_cpu:5.2f}x CPU"
          f"   (goal: <= 3x wall)   medians of {runs}")
    # what two processes cost beyond parsing their halves: starting the worker, pickling its
    # summary, merging (rusage sees a forked worker's CPU, not a forkserver's)
    print(f"two cores: ranges parsed in {c_two:.3f} s CPU together ({c_two / c_one - 1:+.0%} "
          f"over one core), {c_two_process:.3f} s CPU in all (outside the ranges: "
          f"{c_two_process - c_two:+.3f} s); wall {t_two:.3f} s, where each half on a core "
          f"of its own would give {(c_two / 2 + max(0.0, c_two_process - c_two)) / t_grep:.2f}"
          "x grep")
    equal_cores = same_groups(one, two)
    equal_ref = same_groups(small_one, ref)
    print(f"\nequality: one core == two cores on {size_mb:.0f} MB: {_yes(equal_cores)}; "
          f"full scan == line-by-line parser on {small_mb:.0f} MB: {_yes(equal_ref)}")
    if args.equality_on_big:
        print(f"full scan == line-by-line parser on {size_mb:.0f} MB: "
              f"{_yes(same_groups(one, line_by_line_groups(big)))}")
    inc_small = incremental(small, args.incremental_runs)
    inc_big = incremental(big, args.incremental_runs)
    print(f"\n{'incremental check after +1 KB':36s} {'file':>8s} {'median ms':>10s}")
    print(f"{'read_new + parse + fold':36s} {small_mb:>6.0f}MB {inc_small * 1000:10.3f}")
    print(f"{'read_new + parse + fold':36s} {size_mb:>6.0f}MB {inc_big * 1000:10.3f}")
    print(f"(median of {args.incremental_runs}; goal < 5 ms and flat in file size)")
    if not (equal_cores and equal_ref):
        sys.exit("the full scan's groups differ from the reference")


def _result(summary: ScanSummary) -> str:
    return f"{summary.records} records, {len(summary.order)} groups"


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
