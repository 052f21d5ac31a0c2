"""Rotation under a burst: how often copytruncate's window loses a record, and whether the
reader ever does.

Each round runs a real writer process (``bubabot_local.rotationkit``) that appends
numbered tracebacks to its stderr, ``bot_error.log`` (opened for append, as the watcher
opens it), in three pieces each, while a rotating intake reads it as the watcher does
(as fast as it can here, instead of every 2 s, so a round has many rotations) and
counts every record in a real store's error groups. ``keep`` is large so that every
rotated copy stays on disk. Per round it prints:

  * rotations: copies made;
  * lost by copytruncate: records written by the writer but in no file at the end (they
    were appended between the copy's last read and the truncation);
  * lost by the reader: records in a file but never counted (must be 0);
  * doubled: records counted twice (must be 0).

The baseline is logrotate's copytruncate (a separate process, run on a timer): the reader
sees a copytruncate only at its next read, and logrotate's own window is the same one.

    .venv/bin/python bench/bench_rotate.py [--rounds 10] [--count 20000] [--pause 0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bubabot_local.rotationkit import RotatedBurst


def one_round(count: int, pause_s: float, max_bytes: int) -> tuple[int, int, int, int, float]:
    """(rotations, lost by copytruncate, lost by the reader, doubled, seconds)."""
    with tempfile.TemporaryDirectory(prefix="bench-rotate-") as tmp:
        burst = RotatedBurst(Path(tmp), count=count, pause_s=pause_s, max_bytes=max_bytes,
                             keep=100)
        try:
            start = time.perf_counter()
            burst.run_burst()
            seconds = time.perf_counter() - start
            counted, on_disk = burst.counted(), burst.on_disk()
            rotations = len(burst.copies())
        finally:
            burst.stop()
    return (rotations, count - len(on_disk), len(on_disk - set(counted)),
            sum(1 for n in counted.values() if n > 1), seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--count", type=int, default=20_000, help="records per round")
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds between the writer's records (0 = flat out)")
    parser.add_argument("--max-bytes", type=int, default=256 * 1024)
    args = parser.parse_args(argv)
    rows = []
    print("round  rotations  lost-by-copytruncate  lost-by-reader  doubled  seconds")
    for n in range(args.rounds):
        row = one_round(args.count, args.pause, args.max_bytes)
        rows.append(row)
        print(f"{n:5}  {row[0]:9}  {row[1]:20}  {row[2]:14}  {row[3]:7}  {row[4]:7.2f}")
    rotations = sum(r[0] for r in rows)
    lost = [r[1] for r in rows]
    print(f"\n{rotations} rotations of {args.rounds} x {args.count} records "
          f"(writer pause {args.pause} s, max_bytes {args.max_bytes})")
    print(f"rounds losing a record in copytruncate's window: "
          f"{sum(1 for x in lost if x)}/{args.rounds}; records lost per round median "
          f"{statistics.median(lost):g}, p95 {_p95(lost):g}; "
          f"per 1000 rotations: {1000 * sum(lost) / max(1, rotations):.1f} records")
    print(f"lost by the reader: {sum(r[2] for r in rows)}; doubled: {sum(r[3] for r in rows)}")
    return 1 if any(r[2] or r[3] for r in rows) else 0


def _p95(values: list[int]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


if __name__ == "__main__":
    sys.exit(main())
