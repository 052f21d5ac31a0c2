"""Helpers for engine tests that run real processes: the Remi simulator, small bot scripts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, TypeVar

import psutil

from remi_ops.config import Settings, TargetSettings
from remi_ops.config_file import parse_settings

T = TypeVar("T")
SIM = [sys.executable, "-m", "bubabot_local.remi_sim", "run", "--heartbeat-interval-s", "0.05",
       "--heartbeat-warn-s", "0.5"]
SCAN = [sys.executable, "-m", "bubabot_local.remi_sim", "scan"]


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
    return processes_in(workdir, "bubabot_local.remi_sim")


def processes_in(workdir: Path, marker: str) -> list[psutil.Process]:
    """Live processes whose cwd is ``workdir`` and whose command line contains ``marker``."""
    found = []
    for p in psutil.process_iter(["cmdline", "cwd", "status"]):
        try:
            if (p.info["cwd"] == str(workdir) and p.info["status"] != psutil.STATUS_ZOMBIE
                    and marker in " ".join(p.info["cmdline"] or [])):
                found.append(p)
        except (psutil.Error, TypeError):
            continue
    return found




# ------------------------------------------------- small bots for the OS seam (remi_ops.host)

#: prints one line to each stream, then sleeps: a cooperative target
SLEEPER = """
import sys, time
print("out-line", flush=True)
print("err-line", file=sys.stderr, flush=True)
time.sleep(60)
"""
#: prints one line to each stream and exits
ONE_SHOT = """
import sys
print("out-line", flush=True)
print("err-line", file=sys.stderr, flush=True)
"""
#: ignores SIGTERM (only SIGKILL stops it); writes ``ready`` once it does
TERM_IGNORER = """
import pathlib, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pathlib.Path("ready").write_text("ready")
time.sleep(60)
"""
#: starts a grandchild (in a session of its own with the argument ``escape``) and sleeps;
#: the grandchild writes its pid to ``grandchild.pid``
TREE = """
import subprocess, sys, time
code = ("import os, pathlib, time; pathlib.Path('gc.tmp').write_text(str(os.getpid())); "
        "os.rename('gc.tmp', 'grandchild.pid'); time.sleep(60)")
subprocess.Popen([sys.executable, "-c", code], start_new_session="escape" in sys.argv)
time.sleep(60)
"""
#: handles SIGUSR1 with faulthandler (as the beacon does); writes ``ready`` once it does
DUMPABLE = """
import faulthandler, pathlib, signal, sys, time
faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
pathlib.Path("ready").write_text("ready")
time.sleep(60)
"""
# starts argv[2:] in cwd argv[1] detached (not our child), prints its pid and exits
_LAUNCHER = """
import subprocess, sys
p = subprocess.Popen(sys.argv[2:], cwd=sys.argv[1], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
print(p.pid, flush=True)
"""


def write_bot(workdir: Path, script: str = SLEEPER) -> Path:
    """``workdir/bot.py`` holding ``script``; the workdir."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "bot.py").write_text(textwrap.dedent(script))
    return workdir


def bot_target(workdir: Path, script: str, *args: str, **extra: object) -> TargetSettings:
    """A direct target running ``python bot.py *args`` in ``workdir``, with ``script`` in it."""
    write_bot(workdir, script)
    return TargetSettings.parse(
        {"name": "remi", "workdir": workdir, "command": (sys.executable, "bot.py", *args),
         **extra})


def direct_target(workdir: Path) -> TargetSettings:
    """A direct target running ``python bot.py`` in ``workdir`` (nothing is written)."""
    return TargetSettings(name="remi", workdir=workdir, command=(sys.executable, "bot.py"))


def systemd_target(tmp: Path, **extra: Any) -> TargetSettings:
    return TargetSettings.parse({"name": "remi", "workdir": tmp / "remi",
                                 "manager": "systemd", "unit": "remi.service", **extra})


def launchd_target(tmp: Path, **extra: Any) -> TargetSettings:
    return TargetSettings.parse({"name": "remi", "workdir": tmp / "remi",
                                 "manager": "launchd", "label": "com.remi.bot", **extra})


def start_by_hand(cwd: Path, *argv: str) -> int:
    """Start a process the way a person would: not our child. Its pid."""
    launcher = cwd.parent / "launcher.py"
    launcher.write_text(textwrap.dedent(_LAUNCHER))
    out = subprocess.run([sys.executable, str(launcher), str(cwd), *argv], capture_output=True,
                         text=True, check=True, timeout=10)
    return int(out.stdout.strip())


def kill_leftovers(root: Path) -> None:
    """Kill every process still running with its cwd under ``root``."""
    root = root.resolve()
    for proc in psutil.process_iter(["pid", "cwd"]):
        cwd = proc.info["cwd"]
        if proc.pid != os.getpid() and cwd and Path(cwd).is_relative_to(root):
            try:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
            except psutil.Error:
                pass
