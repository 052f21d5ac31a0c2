"""The seed incident with the example config's timings: blocked loop → stack alert → restart →
resolved, measured on a real ``remi-ops watch`` over the Remi simulator.

Every timing comes from ``config/bubabot.example.toml`` unchanged (check_interval_s 60,
hang_threshold_s 60, beacon_stale_s 15, for_checks 2, group_wait_s 30, keep_firing_for_s 120,
stop_grace_s 10, the scan test after every restart …); only the paths and commands point
at a temp workdir running the simulator (``bubabot_local.remi_sim run``, and its ``scan``
as the scan test). The simulator behaves like discord.py: its keep-alive beats every
41.25 s (Discord's HELLO ``heartbeat_interval``) and warns "heartbeat blocked for more than
N seconds" every 10 s once a beat is not answered.

Time zero is the moment the loop blocks (the simulator's "this blocks the event loop" line
in ``bot_error.log``, polled every 1 ms). From there, per hang:

  * stack alert: the first ``.bot_alert`` line carrying the stuck stack (``fetch_track``);
  * restart: the new Remi process started (the store's ``restarts`` row, at + duration);
  * resolved: the ``.bot_alert`` line that resolves the hang alert;
  * notifications: ``.bot_alert`` lines written for this hang (from t0 until 20 s after
    the resolution), split into posts (firing, event, …) and edits of an earlier post
    (update, resolved) — the goal is at most 5;
  * order: the stack alert is a line before the restart report.

Each hang gets a watcher of its own (a fresh temp dir): with the example's flap_changes 4
in flap_window_s 900, a second hang within 15 minutes on the same watcher is announced as
"flapping" rather than resolved, so trials on one watcher would have to be 15 minutes
apart. All trials of both modes run side by side. The two modes:
  - beacon: the simulator runs ``remi_ops.beacon`` with its defaults, as Remi would;
  - warnings only: no beacon (``beacon_file`` points "into" ``bot.log``, a file, so the
    beacon's atomic write fails silently): only discord.py's heartbeat warnings.
Baseline: the old 60-s shell watchdog only checked that the process was alive, and a hung
Remi is alive: it never restarts (the seed incident: 850+ s until a person noticed).

A run takes about 7 minutes (70 s of steady state, a random 0–60 s, 60 s to the
threshold, 120 s of keep_firing_for, a check interval). Run it in the background::

    nohup .venv/bin/python bench/bench_incident.py --trials 3 > /tmp/incident.txt 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_hang import MARKER, epoch, poll_log, query, wait_for
from simproc import kill_sims, pct, sim_pids, start_watcher, stop_watchers

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "bubabot.example.toml"
STUCK = "fetch_track"  # the blocking function in the simulator's stack
DISCORD_HEARTBEAT_S = 41.25
POSTS = {"firing", "repeat", "flapping", "event"}  # NotificationType values that post
TAIL_S = 20.0  # after the last resolution: room for a late notification to show up


@dataclass
class Hang:
    stack_alert: float | None = None
    restart: float | None = None
    resolved: float | None = None
    posts: int = 0
    edits: int = 0
    stack_before_report: bool | None = None
    types: list[str] = field(default_factory=list)


@dataclass
class Run:
    key: str
    label: str
    beacon: bool
    tmp: Path
    hangs: list[Hang] = field(default_factory=list)
    error: str = ""

    @property
    def workdir(self) -> Path:
        return self.tmp / "remi"

    @property
    def db(self) -> Path:
        return self.tmp / "state" / "bubabot.sqlite3"

    @property
    def alert_file(self) -> Path:
        return self.workdir / ".bot_alert"


def toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)  # str, int, float, bool: JSON spells them as TOML does


def toml_table(name: str, table: dict[str, Any]) -> list[str]:
    lines = [f"[{name}]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in table.items() if not isinstance(v, dict)]
    for k, v in table.items():
        if isinstance(v, dict) and k != "env":
            lines += toml_table(f"{name}.{k}", v)
    return lines


def write_config(run: Run) -> Path:
    """The example config, paths and commands pointed at the simulator in a temp workdir."""
    ex = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    run.workdir.mkdir(parents=True)
    (run.workdir / "packages").mkdir()  # the example's watch_paths
    target = ex["targets"][0]
    target["workdir"] = str(run.workdir)
    target["command"] = [sys.executable, "-m", "bubabot_local.remi_sim", "run",
                         "--heartbeat-interval-s", str(DISCORD_HEARTBEAT_S)]
    if not run.beacon:
        target["beacon_file"] = "bot.log/.remi_beacon.json"
    target["scan_test"]["command"] = [sys.executable, "-m", "bubabot_local.remi_sim", "scan"]
    target["scan_test"]["expect_pattern"] = "scan ok"
    ex["watchdog"]["state_dir"] = str(run.tmp / "state")
    lines = toml_table("watchdog", ex["watchdog"])
    target_lines = toml_table("targets", target)
    target_lines[0] = "[[targets]]"
    target_lines.insert(1, f"env = {toml_value(target['env'])}")
    lines += target_lines + toml_table("alerts", ex["alerts"]) + toml_table("discord",
                                                                             ex["discord"])
    path = run.tmp / "bench.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def alert_lines(run: Run) -> list[dict[str, Any]]:
    if not run.alert_file.exists():
        return []
    return [json.loads(line) for line in
            run.alert_file.read_text(encoding="utf-8").splitlines() if line.strip()]


def block_loop(run: Run) -> float:
    """Tell the simulator to hang; the epoch second its loop blocked (its log line)."""
    log = run.workdir / "bot_error.log"
    offset = log.stat().st_size
    tmp = run.workdir / ".remi_sim_control.tmp"
    tmp.write_text(json.dumps({"do": "hang", "seconds": 3600}), encoding="utf-8")
    tmp.replace(run.workdir / ".remi_sim_control")
    with open(log, "rb") as fh:
        fh.seek(offset)
        blocked = poll_log(fh, MARKER, 5.0)
    if blocked is None:
        raise TimeoutError(f"{run.key}: the simulator never started blocking")
    return blocked


def restart_at(run: Run, since: float) -> float | None:
    rows = query(run.db, "SELECT at, duration_s FROM restarts ORDER BY id DESC LIMIT 1")
    if not rows or epoch(str(rows[0][0])) < since:
        return None
    return epoch(str(rows[0][0])) + float(str(rows[0][1]))


def is_stack(line: dict[str, Any]) -> bool:
    return STUCK in json.dumps(line, ensure_ascii=False)


def is_resolution(line: dict[str, Any]) -> bool:
    return line.get("type") == "resolved" and line.get("group_key", "").endswith(":health")


def is_report(line: dict[str, Any]) -> bool:
    """The restart report: an event titled "…: restarted (hang, …)"."""
    return line.get("type") == "event" and ": restarted (" in str(line.get("message", ""))


def one_hang(run: Run, timeout: float) -> Hang:
    """Block the loop once; wait for the stack alert, the restart and the resolution."""
    seen = len(alert_lines(run))
    blocked = block_loop(run)
    hang = Hang()
    deadline = time.monotonic() + timeout
    while hang.resolved is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{run.key}: no resolution {timeout:.0f} s after the hang")
        time.sleep(0.05)
        now = time.time() - blocked
        new = alert_lines(run)[seen:]
        if hang.stack_alert is None and any(is_stack(x) for x in new):
            hang.stack_alert = now
        if hang.restart is None and (at := restart_at(run, blocked)) is not None:
            hang.restart = at - blocked
        if any(is_resolution(x) for x in new):
            hang.resolved = now
    return hang


def count(hang: Hang, lines: list[dict[str, Any]]) -> None:
    hang.types = [str(x.get("type")) for x in lines]
    hang.posts = sum(t in POSTS for t in hang.types)
    hang.edits = len(lines) - hang.posts
    stack = next((i for i, x in enumerate(lines) if is_stack(x) and not is_report(x)), None)
    report = next((i for i, x in enumerate(lines) if is_report(x)), None)
    hang.stack_before_report = (stack is not None and report is not None and stack < report)


def wait_settled(run: Run) -> None:
    """One Remi, running, its post-restart scan and checks done."""
    def settled() -> bool:
        try:
            rows = query(run.db, "SELECT at, to_state FROM transitions ORDER BY id DESC "
                         "LIMIT 1") if run.db.exists() else []
        except sqlite3.OperationalError:  # the watcher has not created the schema yet
            return False
        return (bool(rows) and rows[0][1] == "running"
                and time.time() - epoch(str(rows[0][0])) >= 5
                and len(sim_pids(run.workdir)) == 1)
    wait_for(settled, 120, f"{run.key}: Remi running and settled", step=0.5)


def drive(run: Run, seed: int, timeout: float) -> None:
    """One hang on this run's own watcher (a second hang within flap_window_s of the first
    would be reported as flapping instead: each trial gets a fresh watcher)."""
    rng = random.Random(f"{run.key}-{seed}")
    try:
        wait_settled(run)
        time.sleep(70)  # the first scheduled check has run: steady state, as in the incident
        time.sleep(rng.uniform(0, 60))  # any phase of the 60-s check interval
        start = len(alert_lines(run))
        hang = one_hang(run, timeout)
        wait_settled(run)
        time.sleep(TAIL_S)
        count(hang, alert_lines(run)[start:])
        run.hangs.append(hang)
    except Exception as exc:  # reported in the table; the other mode goes on
        run.error = f"{type(exc).__name__}: {exc}"


def cell(values: list[float | None]) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return f"{'never':>9}{'':>9}"
    missing = len(values) - len(got)
    return (f"{statistics.median(got):>8.1f}s{pct(got, 0.95):>8.1f}s"
            + (f" ({missing} never)" if missing else ""))


def report(runs: list[Run], trials: int, elapsed: float) -> None:
    ex = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    h, a = ex["targets"][0]["health"], ex["alerts"]
    print(f"seed incident, example config (check_interval_s {ex['watchdog']['check_interval_s']},"
          f" hang_threshold_s {h['hang_threshold_s']}, beacon_stale_s {h['beacon_stale_s']}, "
          f"for_checks {a['for_checks']}, group_wait_s {a['group_wait_s']}, keep_firing_for_s "
          f"{a['keep_firing_for_s']}); discord.py keep-alive {DISCORD_HEARTBEAT_S} s; "
          f"{trials} hangs per mode, each on its own watcher, all side by side in "
          f"{elapsed:.0f} s")
    print("t0 = the loop blocks; median / p95 seconds\n")
    print(f"{'mode':26}{'stack alert':>18}{'restart':>18}{'resolved':>18}"
          f"{'posts':>7}{'edits':>7}  stack<report  n")
    for key in dict.fromkeys(r.key for r in runs):
        mine = [r for r in runs if r.key == key]
        hs = [h for r in mine for h in r.hangs]
        errors = [f"\n  ERROR {r.error} (kept {r.tmp})" for r in mine if r.error]
        posts = "/".join(str(x.posts) for x in hs) or "-"
        edits = "/".join(str(x.edits) for x in hs) or "-"
        order = "/".join("yes" if x.stack_before_report else "NO" for x in hs) or "-"
        print(f"{mine[0].label:26}{cell([x.stack_alert for x in hs]):>18}"
              f"{cell([x.restart for x in hs]):>18}{cell([x.resolved for x in hs]):>18}"
              f"{posts:>7}{edits:>7}  {order:12} {len(hs)}" + "".join(errors))
    print(f"{'old 60-s watchdog.sh':26}{'never':>18}{'never':>18}{'never':>18}"
          f"{0:>7}{0:>7}  -            (alive = fine; the seed incident: 850+ s, a person)")
    for i, run in enumerate(runs):
        for x in run.hangs:
            print(f"  {run.key} trial {i + 1}: notifications {' → '.join(x.types)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--modes", default="beacon,warnings")
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs")
    args = ap.parse_args()
    all_runs = {"beacon": ("with the beacon", True), "warnings": ("warnings only", False)}
    runs = [Run(k, *all_runs[k], Path(tempfile.mkdtemp(prefix=f"bench-incident-{k}-")))
            for k in args.modes.split(",") for _ in range(args.trials)]
    watchers: list[subprocess.Popen[bytes]] = []
    started = time.monotonic()
    try:
        for run in runs:
            cfg = write_config(run)
            watchers.append(start_watcher(cfg, run.tmp / "watcher.log"))
        threads = [threading.Thread(target=drive, args=(run, i, 600))
                   for i, run in enumerate(runs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        stop_watchers(watchers, 30)
        for run in runs:
            kill_sims(run.workdir)
            if not args.keep and not run.error:
                shutil.rmtree(run.tmp, ignore_errors=True)
    report(runs, args.trials, time.monotonic() - started)


if __name__ == "__main__":
    main()
