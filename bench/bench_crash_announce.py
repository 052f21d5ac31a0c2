"""Nothing announced is lost: a watcher SIGKILLed right after an operator restart.

Each trial runs ``remi-ops watch`` on the Remi simulator, asks it for a restart from the
command line, kills the watcher ``--delay-s`` after the restart is in the store, starts a
second watcher and counts how often the restart reached ``.bot_alert``. Before the event
journal (issue 14 item 5) it was lost every time (16/16 in the issue); the goal is
"exactly once" in every trial. It also times how long the waiting command line took to
get an answer after the kill (it used to wait 90 s).

    .venv/bin/python bench/bench_crash_announce.py [--trials 8] [--delay-s 0.1]
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bubabot_local.simkit import sim_config_file

from remi_ops.clock import SystemClock
from remi_ops.store.database import Store
from remi_ops.testing import wait_until
from remi_ops.watch.watcher import STORE_NAME


def remi_ops(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "remi_ops.cli.main", "--config", str(cfg),
                           *args], capture_output=True, text=True, timeout=120, check=False)


def watcher(cfg: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "remi_ops.cli.main", "--config", str(cfg),
                             "watch"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: json.loads(remi_ops(cfg, "status", "--json").stdout)[0]["watched"],
               timeout=15, what="the watcher")
    return proc


def restarts(cfg: Path) -> int:
    with Store.open(cfg.parent / "state" / STORE_NAME, SystemClock()) as store:
        since = datetime.now(UTC) - timedelta(minutes=5)
        return sum(r.requested_by.startswith("cli:") for r in store.restarts("remi", since))


def announced(cfg: Path) -> int:
    path = cfg.parent / "remi" / ".bot_alert"
    if not path.exists():
        return 0
    return sum("/restart" in line and "cli:" in line
               for line in path.read_text(encoding="utf-8").splitlines())


def trial(folder: Path, delay_s: float) -> tuple[int, float]:
    """(times the restart was announced, seconds the command line waited after the kill)"""
    cfg = sim_config_file(folder)
    first = watcher(cfg)
    cli = threading.Thread(target=remi_ops, args=(cfg, "restart"))
    cli.start()
    wait_until(lambda: restarts(cfg) == 1, timeout=30, what="the restart")
    time.sleep(delay_s)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    killed = time.monotonic()
    cli.join(120)
    waited = time.monotonic() - killed
    second = watcher(cfg)
    try:
        time.sleep(4.0)  # a few commits and deliveries
        return announced(cfg), waited
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
        remi_ops(cfg, "stop")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--delay-s", type=float, default=0.1)
    args = parser.parse_args()
    counts, waits = [], []
    for n in range(args.trials):
        with tempfile.TemporaryDirectory() as tmp:
            count, waited = trial(Path(tmp), args.delay_s)
        counts.append(count)
        waits.append(waited)
        print(f"trial {n + 1}: announced {count}x, command line answered {waited:.2f}s "
              "after the kill")
    once = sum(c == 1 for c in counts)
    print(f"announced exactly once: {once}/{args.trials} (lost: "
          f"{sum(c == 0 for c in counts)}, twice or more: {sum(c > 1 for c in counts)}); "
          "baseline before the journal: lost 16/16")
    print(f"command line answer after the kill: median {statistics.median(waits):.2f}s, "
          f"max {max(waits):.2f}s; baseline 90 s (its timeout)")


if __name__ == "__main__":
    main()
