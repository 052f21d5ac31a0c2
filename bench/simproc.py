"""Helpers the benchmark scripts share: finding the Remi simulator's processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil

SIMULATOR = "bubabot_local.remi_sim"


def sim_pids(workdir: Path) -> list[int]:
    """Live simulator processes running in ``workdir``."""
    pids = []
    for p in psutil.process_iter(["cmdline", "cwd", "status"]):
        try:
            if (p.info["cwd"] == str(workdir) and p.info["status"] != psutil.STATUS_ZOMBIE
                    and SIMULATOR in " ".join(p.info["cmdline"] or [])):
                pids.append(p.pid)
        except (psutil.Error, TypeError):
            continue
    return pids


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
