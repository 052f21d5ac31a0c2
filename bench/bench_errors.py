"""Errors seen in seconds: appended NameError → ``remi-ops errors`` and → ``.bot_alert``.

Each trial runs a real watcher (in this process, as ``remi-ops watch`` does) over a real
bot (``bubabot_local.errorkit``) that logs the incident's NameError traceback at 1 or
1,000 errors/s to its stderr, and measures from the moment the bot starts logging to

  * visible: the NameError group is in the store (what ``remi-ops errors`` reads), and
  * alerted: the NameError alert is a line in ``.bot_alert`` (the group wait included).

Scheduled checks run every 10 minutes here, so neither can come from one. The baseline
is the old pipeline, where errors were read only at the 60-s check: an error lands at a
uniform moment of the interval, so visible = U(0, 60) s and alerted = that + group wait
(the issue measured 53 s and 84 s for one such burst).

    .venv/bin/python bench/bench_errors.py [--trials 3] [--group-wait 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import msgspec
from bubabot_local.errorkit import alert_lines, error_bot_settings, request_errors

from remi_ops.supervision.supervisor import State
from remi_ops.testing import wait_until_async
from remi_ops.watch.watcher import Watcher

OLD_CHECK_S = 60.0
POLL_S = 0.05


async def trial(rate: int, group_wait: float) -> tuple[float, float]:
    """One watcher, one bot, one burst: (seconds to visible, seconds to alerted)."""
    with tempfile.TemporaryDirectory(prefix="bench-errors-") as tmp:
        settings = error_bot_settings(Path(tmp))
        settings = msgspec.structs.replace(settings, alerts=msgspec.structs.replace(
            settings.alerts, group_wait_s=group_wait))
        watcher = Watcher(settings, console=None, environ={})
        watcher.acquire_locks()
        stop = asyncio.Event()
        task = asyncio.create_task(watcher.run(stop))
        watch = watcher.watch(None)
        try:
            await wait_until_async(lambda: watch.supervisor.state is State.RUNNING,
                                   timeout=30, what="remi running")
            # the bot is up; then a random moment of the 2-s probe cycle, not always the same
            await asyncio.sleep(1.0 + random.uniform(0.0, 2.0))
            workdir = settings.targets[0].workdir
            request_errors(workdir, rate, max(3, 3 * rate))
            start = time.perf_counter()
            visible = alerted = None
            while alerted is None:
                await asyncio.sleep(POLL_S)
                now = time.perf_counter() - start
                if visible is None and await asyncio.to_thread(_stored, watcher):
                    visible = now
                if any("NameError" in json.dumps(line) for line in alert_lines(settings)):
                    alerted = now
                if now > OLD_CHECK_S * 3:
                    raise TimeoutError(f"no alert within {now:.0f} s at {rate} errors/s")
            return visible if visible is not None else alerted, alerted
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
            watcher.close()


def _stored(watcher: Watcher) -> bool:
    return any("NameError" in g.title for g in watcher.store.error_groups("remi"))


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def line(label: str, values: list[float]) -> str:
    return (f"  {label:<34} median {statistics.median(values):6.2f} s   "
            f"p95 {p95(values):6.2f} s   (n={len(values)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--group-wait", type=float, default=30.0)
    args = parser.parse_args()
    wait = args.group_wait
    print(f"appended NameError → visible / alerted (group wait {wait:.0f} s, "
          f"{args.trials} trials per rate)")
    print(f"baseline (errors read at the {OLD_CHECK_S:.0f}-s check only):")
    print(f"  {'visible in remi-ops errors':<34} median {OLD_CHECK_S / 2:6.2f} s   "
          f"p95 {0.95 * OLD_CHECK_S:6.2f} s   (model: uniform over the interval)")
    print(f"  {'alert in .bot_alert':<34} median {OLD_CHECK_S / 2 + wait:6.2f} s   "
          f"p95 {0.95 * OLD_CHECK_S + wait:6.2f} s   (model: + group wait)")
    for rate in (1, 1000):
        results = [asyncio.run(trial(rate, wait)) for _ in range(args.trials)]
        print(f"now, at {rate} errors/s:")
        print(line("visible in remi-ops errors", [v for v, _ in results]))
        print(line("alert in .bot_alert", [a for _, a in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
