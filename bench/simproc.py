"""Helpers the benchmark scripts share: the Remi simulator's processes, ``remi-ops watch``
subprocesses, quantiles."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from bubabot_local.simkit import sims_in

ROOT = Path(__file__).resolve().parent.parent


def sim_pids(workdir: Path) -> list[int]:
    """Live simulator processes running in ``workdir``."""
    return [p.pid for p in sims_in(workdir)]


def kill_sims(workdir: Path) -> None:
    """SIGKILL whatever simulator is left in ``workdir``."""
    for pid in sim_pids(workdir):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def start_watcher(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    """``remi-ops --config cfg watch`` from this tree, its stderr appended to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "remi_ops.cli.main", "--config", str(cfg), "watch"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=out,
            env={**os.environ, "PYTHONPATH": str(ROOT)})  # watcher + sims: this tree


def stop_watchers(watchers: list[subprocess.Popen[bytes]], wait_s: float) -> None:
    """SIGTERM them all, then wait; one that does not stop in ``wait_s`` is killed."""
    for w in watchers:
        w.send_signal(signal.SIGTERM)
    for w in watchers:
        try:
            w.wait(wait_s)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait()


def cpu_seconds(pid: int) -> float:
    """CPU time a process used so far, all its threads, as precisely as the host counts it.

    On Linux, the scheduler's own count (``/proc/<pid>/task/*/schedstat``, ns on a CPU):
    user + system times (``psutil.cpu_times``) count whole 10-ms clock ticks, each charged
    to whichever thread the tick finds running, so a process awake for a few hundred µs at
    a time is charged by chance — the same idle watcher read 0.28–0.43 % between runs.
    A thread that ended is no longer counted (an idle watcher's threads all live on).
    Elsewhere, user + system.
    """
    total, found = 0, False
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        tasks = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", encoding="ascii") as f:
                total += int(f.read().split()[0])
            found = True
        except (OSError, ValueError, IndexError):
            continue
    if found:
        return total / 1e9
    import psutil  # noqa: PLC0415 - only where /proc has no schedstat

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system
