"""Death noticed and Remi back, over repeated kill -9s under ``remi-ops watch``.

Runs the real watcher (a subprocess) on the Remi simulator, kills the simulator with
SIGKILL N times (each after it has been up for ``stable_after_s``, so every crash follows
stable running) and measures:
  (a) kill → death noticed: the watcher's recorded running→backoff transition time;
  (b) kill → new Remi process running: polled with psutil every 2 ms.
Baseline: the old launchd job polled every 60 s (``watchdog.sh``), so a death waited a
uniformly distributed 0–60 s for the next poll; its distribution is sampled in the same run.

    .venv/bin/python bench/bench_supervisor.py [--kills 20]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from simproc import pct, sim_pids

ROOT = Path(__file__).resolve().parent.parent
OLD_POLL_S = 60.0


def config(tmp: Path) -> Path:
    path = tmp / "bench.toml"
    path.write_text(f"""
[watchdog]
check_interval_s = 60
state_dir = "{tmp / 'state'}"

[[targets]]
name = "remi"
workdir = "{tmp / 'remi'}"
command = ["{sys.executable}", "-m", "bubabot_local.remi_sim", "run"]

[targets.restart]
stable_after_s = 1
budget_restarts = 1000
stop_grace_s = 2

[targets.scan_test]
after_restart = false
""", encoding="utf-8")
    (tmp / "remi").mkdir()
    return path




def wait_for(probe, timeout: float = 20.0, step: float = 0.002):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(step)
    raise SystemExit("timed out waiting for the watcher")


def noticed_at(db: Path, after: float) -> float:
    """Epoch time of the first running→backoff transition after ``after``."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT at FROM transitions WHERE to_state = 'backoff'").fetchall()
    times = sorted(datetime.fromisoformat(r[0]).timestamp() for r in rows)
    later = [t for t in times if t >= after - 0.001]
    return later[0] if later else float("nan")




def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-supervisor-"))
    cfg = config(tmp)
    workdir = tmp / "remi"
    watcher = subprocess.Popen([sys.executable, "-m", "remi_ops.cli.main", "--config", str(cfg),
                                "watch"], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    notice, back = [], []
    try:
        pid = wait_for(lambda: sim_pids(workdir))[0]
        for _ in range(args.kills):
            time.sleep(1.3)  # up for longer than stable_after_s: each crash follows stable running
            killed_wall, killed = time.time(), time.monotonic()
            os.kill(pid, signal.SIGKILL)
            new = wait_for(lambda old=pid: [p for p in sim_pids(workdir) if p != old])
            back.append(time.monotonic() - killed)
            pid = new[0]
            time.sleep(0.2)
            notice.append(noticed_at(tmp / "state" / "bubabot.sqlite3", killed_wall) - killed_wall)
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(20)
        for p in sim_pids(workdir):
            os.kill(p, signal.SIGKILL)
    rng = random.Random(1)
    old = [rng.uniform(0, OLD_POLL_S) for _ in range(10_000)]
    print(f"kills: {len(back)} (remi-ops watch on the Remi simulator, SIGKILL each time)")
    print(f"{'':34}{'median':>10}{'p95':>10}")
    print(f"{'(a) kill → death noticed':34}{statistics.median(notice):>9.3f}s"
          f"{pct(notice, 0.95):>9.3f}s")
    print(f"{'(b) kill → new Remi running':34}{statistics.median(back):>9.3f}s"
          f"{pct(back, 0.95):>9.3f}s")
    print(f"{'baseline: 60-s poll, noticed':34}{statistics.median(old):>9.3f}s"
          f"{pct(old, 0.95):>9.3f}s")
    ratio = statistics.median(old) / statistics.median(notice)
    print(f"ratio (baseline median / ours, noticed): {ratio:,.0f}x")
    print(f"goal: (a) < 1 s {'MET' if pct(notice, 0.95) < 1 else 'MISSED'}, "
          f"(b) < 2 s {'MET' if pct(back, 0.95) < 2 else 'MISSED'}")


if __name__ == "__main__":
    main()
