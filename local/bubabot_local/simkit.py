"""Helpers for engine tests that run the Remi simulator for real."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psutil

from remi_ops.config import Settings, parse_settings

T = TypeVar("T")
SIM = [sys.executable, "-m", "bubabot_local.remi_sim", "run", "--heartbeat-interval-s", "0.05",
       "--heartbeat-warn-s", "0.5"]
SCAN = [sys.executable, "-m", "bubabot_local.remi_sim", "scan"]


def wait_until(probe: Callable[[], T | None], timeout: float = 8.0, what: str = "") -> T:
    """Poll ``probe`` (blocking; tests only) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")


def gone(pid: int) -> bool:
    """Dead or a zombie (orphans are not reaped in every container)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def sim_settings(tmp: Path, **overrides: Any) -> Settings:
    """Settings for one simulated target with fast timings."""
    target: dict[str, Any] = {
        "name": "remi", "workdir": str(tmp / "remi"), "command": SIM,
        "env": {"REMI_BEACON_INTERVAL_S": "0.2", "REMI_BEACON_DUMP_AFTER_S": "0.5"},
        "restart": {"stop_grace_s": 2, "stable_after_s": 600, "start_seconds": 0.5},
        "health": {"hang_threshold_s": 2.5, "beacon_stale_s": 5},
        "scan_test": {"command": SCAN, "timeout_s": 5, "expect_pattern": "scan ok",
                      "after_restart": True},
    }
    for key, value in overrides.pop("target", {}).items():
        if isinstance(value, dict):
            target[key] = {**target.get(key, {}), **value}
        else:
            target[key] = value
    (tmp / "remi").mkdir(parents=True, exist_ok=True)
    raw = {"watchdog": {"check_interval_s": 60, "state_dir": str(tmp / "state")},
           "targets": [target],
           "alerts": {"group_wait_s": 0, "group_interval_s": 0, "keep_firing_for_s": 0},
           **overrides}
    return parse_settings(raw, base_dir=tmp)


def sim_config_file(tmp: Path, extra: str = "") -> Path:
    """A ``bubabot.toml`` for one simulated target (for ``remi-ops --config``)."""
    workdir = tmp / "remi"
    workdir.mkdir(exist_ok=True)
    path = tmp / "bubabot.toml"
    path.write_text(f"""
[watchdog]
state_dir = "{tmp / 'state'}"

[[targets]]
name = "remi"
workdir = "{workdir}"
command = {json.dumps(SIM)}

[targets.restart]
stop_grace_s = 2

[targets.scan_test]
command = {json.dumps(SCAN)}
timeout_s = 5
expect_pattern = "scan ok"
{extra}
""", encoding="utf-8")
    return path


def control(workdir: Path, **command: Any) -> None:
    """Tell the simulator to misbehave (atomic write, as its protocol asks)."""
    tmp = workdir / ".remi_sim_control.tmp"
    tmp.write_text(json.dumps(command), encoding="utf-8")
    tmp.replace(workdir / ".remi_sim_control")


def sims_in(workdir: Path) -> list[psutil.Process]:
    """Live simulator processes whose cwd is ``workdir``."""
    found = []
    for p in psutil.process_iter(["cmdline", "cwd", "status"]):
        try:
            if (p.info["cwd"] == str(workdir) and p.info["status"] != psutil.STATUS_ZOMBIE
                    and "bubabot_local.remi_sim" in " ".join(p.info["cmdline"] or [])):
                found.append(p)
        except (psutil.Error, TypeError):
            continue
    return found


