"""Alert pipeline benchmark: 100 targets × 100 error groups (10,000 fingerprints).

Measures:
  1. the pure engine (observe + flush), no I/O;
  2. engine + store: observe, flush, enqueue and persist the engine's changes in SQLite;
  3. end-to-end latency from an ``observe`` to the sink's write, with the real outbox on a
     SQLite file in a temp dir and a fast in-memory sink, delivery running concurrently.

Group wait and group interval are 0 so that every check produces a notification per
target (the worst case for the pipeline; real settings batch far more).

    .venv/bin/python bench/bench_alerts.py [--rounds 5] [--targets 100] [--groups 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from remi_ops.alerts.engine import AlertEngine
from remi_ops.alerts.model import AlertKey, Condition, Notification
from remi_ops.alerts.outbox import Outbox
from remi_ops.clock import SystemClock
from remi_ops.config import AlertSettings
from remi_ops.domain import Severity
from remi_ops.store.database import Store

SETTINGS = AlertSettings(group_wait_s=0.0, group_interval_s=0.0)


class MemorySink:
    """Records when each notification arrived."""

    name = "memory"

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    async def deliver(self, n: Notification, previous_ref: str | None) -> str | None:
        self.arrived[n.id] = time.perf_counter()
        return n.message_key


def conditions(target: str, groups: int, round_no: int) -> list[Condition]:
    return [Condition(AlertKey(target, "error_group", f"{target}-fp{g:04d}"), Severity.WARNING,
                      f"KeyError('key-{g}') in score_batch", {"count": round_no + 1})
            for g in range(groups)]


def bench_engine(targets: int, groups: int, rounds: int) -> tuple[int, float, int]:
    engine = AlertEngine(SETTINGS)
    clock = SystemClock()
    events = notes = 0
    start = time.perf_counter()
    for r in range(rounds):
        for t in range(targets):
            target = f"bot{t:03d}"
            engine.observe(clock.now(), target, conditions(target, groups, r))
            notes += len(engine.flush(clock.now()))
            events += groups
    return events, time.perf_counter() - start, notes


async def bench_pipeline(targets: int, groups: int, rounds: int, directory: Path,
                         pace_s: float = 0.0) -> dict[str, float]:
    """Checks back to back (``pace_s`` 0: throughput) or one every ``pace_s`` (latency)."""
    clock = SystemClock()
    store = Store.open(directory / "state.db", clock)
    sink = MemorySink()
    outbox = Outbox(store, [sink], clock, settings=SETTINGS)
    engine = AlertEngine(SETTINGS)
    observed_at: dict[str, float] = {}
    stop = asyncio.Event()
    delivery = asyncio.create_task(outbox.run(stop, idle_s=0.05))
    events = 0
    start = time.perf_counter()
    for r in range(rounds):
        for t in range(targets):
            target = f"bot{t:03d}"
            if pace_s:
                await asyncio.sleep(max(0.0, start + (r * targets + t) * pace_s
                                        - time.perf_counter()))
            at = time.perf_counter()
            engine.observe(clock.now(), target, conditions(target, groups, r))
            for n in await outbox.commit(engine):
                observed_at[n.id] = at
            events += groups
    produced = time.perf_counter() - start
    while len(sink.arrived) < len(observed_at):  # noqa: ASYNC110 - polling a plain dict
        await asyncio.sleep(0.01)
    drained = time.perf_counter() - start
    stop.set()
    await delivery
    latencies = sorted((sink.arrived[i] - observed_at[i]) * 1000 for i in observed_at)
    store.close()
    size = await asyncio.to_thread(
        lambda: sum(p.stat().st_size for p in directory.glob("state.db*")))
    return {"events": events, "produce_s": produced, "drain_s": drained,
            "notifications": len(latencies), "p50_ms": statistics.median(latencies),
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1], "max_ms": latencies[-1],
            "db_mb": size / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--groups", type=int, default=100, help="error groups per target")
    parser.add_argument("--rounds", type=int, default=5, help="checks per target")
    parser.add_argument("--pace-ms", type=float, default=20.0,
                        help="spacing of checks in the latency run (real load: 600 ms for "
                             "100 targets checked every 60 s)")
    args = parser.parse_args()

    events, seconds, notes = bench_engine(args.targets, args.groups, args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        p = asyncio.run(bench_pipeline(args.targets, args.groups, args.rounds, Path(tmp)))
    with tempfile.TemporaryDirectory() as tmp:
        paced = asyncio.run(bench_pipeline(args.targets, args.groups, args.rounds, Path(tmp),
                                           args.pace_ms / 1000))

    total = args.targets * args.groups
    print(f"{args.targets} targets × {args.groups} error groups = {total} fingerprints, "
          f"{args.rounds} checks each (round 1 posts, later rounds edit counts)")
    print()
    print(f"{'stage':<46} {'events':>8} {'seconds':>8} {'events/s':>10}")
    print(f"{'engine only (observe+flush)':<46} {events:>8} {seconds:>8.2f} "
          f"{events / seconds:>10.0f}")
    print(f"{'engine + SQLite (observe/flush/enqueue/persist)':<46} {p['events']:>8.0f} "
          f"{p['produce_s']:>8.2f} {p['events'] / p['produce_s']:>10.0f}")
    print(f"{'... and delivered to the sink':<46} {p['events']:>8.0f} "
          f"{p['drain_s']:>8.2f} {p['events'] / p['drain_s']:>10.0f}")
    print()
    print(f"notifications: engine-only {notes}, pipeline {p['notifications']:.0f}")
    print()
    print(f"{'event → sink write latency':<46} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>10}")
    for label, run in ((f"one check every {args.pace_ms:g} ms", paced),
                       ("checks back to back (queueing)", p)):
        print(f"{label:<46} {run['p50_ms']:>8.1f} {run['p99_ms']:>8.1f} {run['max_ms']:>10.1f}")
    print()
    print(f"state database after the run: {p['db_mb']:.1f} MB")


if __name__ == "__main__":
    main()
