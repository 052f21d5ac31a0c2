"""The chaos table's rig: temp workdirs, config files, real ``remi-ops watch`` processes,
and what a row reports about them (Remi copies alive, running, alerts, watcher CPU).

Each scenario gets a ``Rig`` (one temp dir); ``Rig.close`` stops every watcher it started
and SIGKILLs whatever is left running in its workdirs, so a failed scenario leaves nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import psutil
from bench_incident import toml_table

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
SIM = [sys.executable, "-m", "bubabot_local.remi_sim", "run", "--heartbeat-interval-s", "0.2",
       "--heartbeat-warn-s", "2"]
STORE = "bubabot.sqlite3"
#: fast timings, so a scenario takes seconds: a check every 2 s, alerts at once
WATCHDOG = {"check_interval_s": 2, "heartbeat_stale_s": 10}
RESTART = {"stable_after_s": 1, "start_seconds": 0.5, "stop_grace_s": 1,
           "budget_restarts": 100}
ALERTS = {"for_checks": 1, "group_wait_s": 0.5, "keep_firing_for_s": 1}


@dataclass
class Row:
    fault: str
    outcome: str
    copies: str = "-"
    running: str = "-"
    back: str = "-"
    alerts: str = "-"
    cpu: str = "-"


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, step: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


class Watch:
    """One ``remi-ops watch`` subprocess and its CPU use since it started."""

    def __init__(self, config: Path, log: Path) -> None:
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "remi_ops.cli.main", "--config", str(config), "watch"],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=out,
                env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.log = log
        self.ps = psutil.Process(self.proc.pid)
        self.since = (time.monotonic(), 0.0)

    def _cpu_s(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def mark(self) -> None:
        """Measure CPU from now on: the interpreter's start-up is not the watcher's load."""
        try:
            self.since = (time.monotonic(), self._cpu_s())
        except psutil.Error:
            return

    def cpu_percent(self) -> float | None:
        """CPU seconds / wall seconds since the mark (else the start), the watcher alone."""
        try:
            used = self._cpu_s() - self.since[1]
        except psutil.Error:
            return None
        return 100 * used / (time.monotonic() - self.since[0])

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def last_line(self) -> str:
        lines = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return lines[-1] if lines else ""

    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.log.read_text(errors="replace")


class Rig:
    """A temp dir with workdirs, configs and watchers; closed, it leaves nothing running."""

    def __init__(self, name: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"chaos-{name}-"))
        self.watches: list[Watch] = []
        self.workdirs: set[Path] = set()

    def workdir(self, name: str = "remi") -> Path:
        path = self.tmp / name
        path.mkdir(exist_ok=True)
        self.workdirs.add(path)
        return path

    def target(self, name: str = "remi", workdir: str = "remi",
               command: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        return {"name": name, "workdir": str(self.workdir(workdir)), "command": command or SIM,
                "restart": dict(RESTART), "scan_test": {"after_restart": False}, **extra}

    def config(self, *targets: dict[str, Any], state: str = "state", file: str = "bubabot.toml",
               raw: str = "") -> Path:
        lines = toml_table("watchdog", {**WATCHDOG, "state_dir": str(self.tmp / state)})
        for target in targets:
            table = toml_table("targets", target)
            table[0] = "[[targets]]"
            lines += table
        lines += toml_table("alerts", ALERTS)
        path = self.tmp / file
        path.write_text("\n".join(lines) + "\n" + raw, encoding="utf-8")
        return path

    def watch(self, config: Path) -> Watch:
        watch = Watch(config, self.tmp / f"watcher-{len(self.watches)}.log")
        self.watches.append(watch)
        return watch

    def close(self) -> None:
        for watch in self.watches:
            watch.stop()
        for workdir in self.workdirs:
            for proc in in_workdir(workdir):
                try:
                    proc.kill()
                except psutil.Error:
                    continue
        shutil.rmtree(self.tmp, ignore_errors=True)


def in_workdir(workdir: Path) -> list[psutil.Process]:
    """Every live process whose cwd is ``workdir`` (Remi, its children, escaped forks)."""
    found = []
    for proc in psutil.process_iter(["cwd", "status"]):
        if proc.info["cwd"] == str(workdir) and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def pids(workdir: Path) -> list[int]:
    return sorted(p.pid for p in in_workdir(workdir))


def alerts(workdir: Path) -> list[dict[str, Any]]:
    path = workdir / ".bot_alert"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def query(db: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
            return conn.execute(sql, args).fetchall()
    except sqlite3.Error:
        return []


def state_of(state_dir: Path, target: str = "remi") -> str:
    rows = query(state_dir / STORE, "SELECT to_state FROM transitions WHERE target = ? "
                 "ORDER BY id DESC LIMIT 1", target)
    return str(rows[0][0]) if rows else "?"


def running(state_dir: Path, workdir: Path, target: str = "remi") -> bool:
    return state_of(state_dir, target) == "running" and bool(pids(workdir))


def health(workdir: Path) -> dict[str, Any]:
    """The watcher's ``.bot_health`` (empty when missing or half-written)."""
    try:
        value = json.loads((workdir / ".bot_health").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def running_cell(state_dir: Path, workdir: Path, target: str = "remi") -> str:
    """``yes``/``no``, with the supervisor state and health status the watcher last wrote."""
    h = health(workdir)
    return (f"{'yes' if running(state_dir, workdir, target) else 'no'} "
            f"({h.get('supervisor_state', '?')}, {h.get('status', '?')})")


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def cpu(*watches: Watch) -> str:
    values = [w.cpu_percent() for w in watches]
    return "/".join("-" if v is None else f"{v:.1f}%" for v in values)


def alert_summary(lines: list[dict[str, Any]]) -> str:
    kinds: dict[str, int] = {}
    for line in lines:
        kinds[str(line.get("type"))] = kinds.get(str(line.get("type")), 0) + 1
    return f"{len(lines)} (" + ", ".join(f"{k} {v}" for k, v in kinds.items()) + ")" \
        if lines else "0"


def cli(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``remi-ops --config config args…``, output captured."""
    return subprocess.run([sys.executable, "-m", "remi_ops.cli.main", "--config", str(config),
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)


def one_line(text: str, width: int = 150) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= width else line[:width - 1] + "…"


def bot(rig: Rig, script: str, workdir: str = "remi") -> list[str]:
    path = rig.workdir(workdir) / "bot.py"
    path.write_text(script, encoding="utf-8")
    return [sys.executable, "bot.py"]


def settle(rig: Rig, workdir: Path, state: str = "state") -> None:
    """Remi running; the watchers' CPU is measured from here."""
    wait_for(lambda: running(rig.tmp / state, workdir), 40, "Remi running")
    for watch in rig.watches:
        watch.mark()
