"""Hang detection latency, measured from the moment Remi's event loop blocks.

Runs the real ``remi-ops watch`` (a subprocess) on the Remi simulator and, N times, tells
the simulator to block its event loop (``{"do": "hang"}`` in the control file, as the
2026-01-24 incident did), then reads from the watcher's SQLite store (``transitions`` and
``restarts`` tables) when it
  (a) detected the hang: the first state change to ``unhealthy`` (the first warning, a
      "degraded" finding when the beacon sees a loop that missed a beat; with discord.py's
      warnings alone the first warning already crosses the threshold and restarts);
  (b) decided the hang restart: the state change to ``restarting`` (trigger "hang");
  (c) had the new Remi process started: the ``restarts`` row's ``at + duration_s``.
Also shown: when discord.py's first "heartbeat blocked" warning reached ``bot_error.log``
(polled like t0 below), so (b) − warning is the watcher's own share of a warnings-driven
restart. Watcher settings: ``stop_grace_s = 1`` (a blocked loop ignores SIGTERM, so every
stop is TERM → 1 s → KILL), ``start_seconds = 1``, scan test after restart off, a restart
budget that never runs out.

Time zero is the moment the loop blocks. The simulator logs "… (this blocks the event loop
for N s)" to ``bot_error.log`` and, in the same call, runs the blocking ``fetch_track``;
this script polls the log every 1 ms for that line, so t0 is exact to about 1–2 ms. (The
control-file write is up to one simulator poll, 0.2 s, earlier — printed as a check; the
beacon's ``last_beat_at`` would be up to one beacon interval, 2 s, earlier.)

Configurations, all with ``hang_threshold_s = 10`` and the simulator's discord.py-like
"heartbeat blocked for more than 10 seconds" warning step (``--heartbeat-warn-s 10``):
  - beacon + warnings: the simulator runs ``remi_ops.beacon`` with its defaults (2 s
    interval, stack dump after 5 s), as Remi would; discord.py's warnings still arrive;
  - warnings only: the simulator's beacon is disabled for the watcher. The simulator has no
    switch for it and the direct manager always exports ``REMI_BEACON_FILE`` = the target's
    ``beacon_file``, so ``beacon_file`` points "into" ``bot.log``, a file: the beacon's
    atomic write fails (silently, by design) and the watcher reads no beacon;
  - beacon only: the beacon as above, discord.py's warnings pushed out of reach
    (``--heartbeat-warn-s 100000``), to show the beacon's own restart path.
The three watchers run side by side (independent temp dirs), so the default 10 trials take
about 3.5 minutes. Each hang starts a random 0–2 s after the simulator settled, so the
trials sample every phase of the watcher's 2-s probe and the beacon's 2-s writes.

The simulator's keep-alive beats every ``--heartbeat-interval-s`` (default 1 s, the
simulator's default). Real discord.py beats every ``heartbeat_interval`` from Discord's
HELLO (41.25 s) and warns 10 s after the first beat the blocked loop does not answer, so
its first warning comes 10 s + U(0, 41.25 s) after the loop blocks. The "modelled" row adds
U(0, 41.25 − interval) to the measured warnings-only samples; pass
``--heartbeat-interval-s 41.25`` to measure that case for real (slow).

    .venv/bin/python bench/bench_hang.py [--trials 10] [--threshold-s 10]
        [--heartbeat-interval-s 1] [--modes beacon,warnings,beacon_only] [--keep]
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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, TypeVar

from simproc import kill_sims, pct, sim_pids, start_watcher, stop_watchers

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
STORE = "bubabot.sqlite3"
MARKER = b"this blocks the event loop"
WARNING = b"heartbeat blocked for more than"
SIM_POLL_S = 0.2  # the simulator's control-file poll (bubabot_local.remi_sim.POLL_S)
DISCORD_HEARTBEAT_S = 41.25  # Discord's HELLO heartbeat_interval
MARKER_POLL_S = 0.001
SETTLE_S = 3.0  # after "running": the post-restart recheck (start_seconds + 1) has run
PHASE_S = 2.0  # engine.PROBE_INTERVAL_S, and the beacon's default write interval


@dataclass(frozen=True)
class Mode:
    key: str
    label: str
    beacon: bool
    warn_s: float


MODES = (
    Mode("beacon", "beacon + warnings", beacon=True, warn_s=10.0),
    Mode("warnings", "warnings only", beacon=False, warn_s=10.0),
    Mode("beacon_only", "beacon only", beacon=True, warn_s=100_000.0),
)


@dataclass
class Trial:
    write_to_block: float  # control-file write → loop blocked (≤ SIM_POLL_S)
    detected: float  # loop blocked → first "unhealthy"
    restarting: float  # loop blocked → "restarting" (hang restart decided)
    started: float  # loop blocked → new process spawned (restart row at + duration)
    first_reason: str
    warned: float | None = None  # loop blocked → discord.py's first warning logged


@dataclass
class Run:
    mode: Mode
    tmp: Path
    trials: list[Trial] = field(default_factory=list)
    error: str = ""

    @property
    def workdir(self) -> Path:
        return self.tmp / "remi"

    @property
    def db(self) -> Path:
        return self.tmp / "state" / STORE


def write_config(run: Run, threshold_s: float, heartbeat_s: float) -> Path:
    """One target: the simulator with discord.py-like warnings, a 10-s hang threshold."""
    run.workdir.mkdir(parents=True)
    command = [sys.executable, "-m", "bubabot_local.remi_sim", "run",
               "--heartbeat-interval-s", str(heartbeat_s),
               "--heartbeat-warn-s", str(run.mode.warn_s)]
    # warnings only: a beacon file the simulator cannot write (its "directory" is a file;
    # the atomic writer creates missing directories, so a missing one is not enough)
    beacon = ".remi_beacon.json" if run.mode.beacon else "bot.log/.remi_beacon.json"
    path = run.tmp / "bench.toml"
    path.write_text(f"""
[watchdog]
check_interval_s = 60
state_dir = "{run.tmp / 'state'}"

[[targets]]
name = "remi"
workdir = "{run.workdir}"
command = {json.dumps(command)}
beacon_file = "{beacon}"

[targets.restart]
stable_after_s = 1
start_seconds = 1
budget_restarts = 1000
stop_grace_s = 1

[targets.health]
hang_threshold_s = {threshold_s}

[targets.scan_test]
after_restart = false
""", encoding="utf-8")
    return path




def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def query(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(db, timeout=10) as conn:
        return conn.execute(sql, args).fetchall()


def last_transition(db: Path) -> tuple[float, str] | None:
    if not db.exists():
        return None
    try:
        rows = query(db, "SELECT at, to_state FROM transitions ORDER BY id DESC LIMIT 1")
    except sqlite3.OperationalError:  # the watcher has not created the schema yet
        return None
    return (epoch(str(rows[0][0])), str(rows[0][1])) if rows else None


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, step: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def wait_settled(run: Run) -> None:
    """Running for SETTLE_S, so the last check saw a beating loop and the beacon is fresh."""
    def settled() -> bool:
        last = last_transition(run.db)
        return (last is not None and last[1] == "running" and time.time() - last[0] >= SETTLE_S
                and len(sim_pids(run.workdir)) == 1)
    wait_for(settled, 30, f"{run.mode.key}: Remi running and settled")


def block_loop(run: Run, heartbeat_s: float) -> tuple[float, float, float | None]:
    """Tell the simulator to hang; return when the control file was written, when the loop
    blocked and when discord.py's first "heartbeat blocked" warning was logged (None when
    the warnings are off), epoch seconds, each as this script saw the log line appear."""
    log = run.workdir / "bot_error.log"
    offset = log.stat().st_size
    tmp = run.workdir / ".remi_sim_control.tmp"
    tmp.write_text(json.dumps({"do": "hang", "seconds": 3600}), encoding="utf-8")
    written = time.time()
    tmp.replace(run.workdir / ".remi_sim_control")
    with open(log, "rb") as fh:
        fh.seek(offset)
        blocked = poll_log(fh, MARKER, 5.0)
        if blocked is None:
            raise TimeoutError(f"{run.mode.key}: the simulator never started blocking")
        warned = poll_log(fh, WARNING, run.mode.warn_s + heartbeat_s + 2) \
            if run.mode.warn_s < 1000 else None
    return written, blocked, warned


def poll_log(fh: BinaryIO, marker: bytes, within_s: float) -> float | None:
    """Epoch time at which ``marker`` appeared in ``fh`` (polled every 1 ms), or None."""
    deadline = time.monotonic() + within_s
    seen = b""
    while time.monotonic() < deadline:
        seen = seen[-len(marker):] + fh.read()
        if marker in seen:
            return time.time()
        time.sleep(MARKER_POLL_S)
    return None


def measure(run: Run, written: float, blocked: float, timeout: float) -> Trial:
    """Wait for the hang restart, then read the watcher's times from its store."""
    def recorded() -> tuple[tuple[object, ...], list[tuple[float, str, str]]] | None:
        # the restart row is written when the restart is done; the transitions that led to
        # it are flushed after that, so wait for both
        rows = query(run.db, "SELECT at, duration_s, ok FROM restarts WHERE trigger = 'hang' "
                     "ORDER BY id DESC LIMIT 1")
        if not rows or epoch(str(rows[0][0])) < blocked:
            return None
        after = [(epoch(str(at)), str(to), str(why)) for at, to, why in query(
            run.db, "SELECT at, to_state, reason FROM transitions ORDER BY id")
            if epoch(str(at)) >= blocked]
        states = {t[1] for t in after}
        return (rows[0], after) if {"unhealthy", "restarting"} <= states else None
    row, after = wait_for(recorded, timeout, f"{run.mode.key}: the hang restart")
    unhealthy = next(t for t in after if t[1] == "unhealthy")
    restarting = next(t for t in after if t[1] == "restarting")
    return Trial(write_to_block=blocked - written, detected=unhealthy[0] - blocked,
                 restarting=restarting[0] - blocked,
                 started=epoch(str(row[0])) + float(str(row[1])) - blocked,
                 first_reason=unhealthy[2])


def drive(run: Run, trials: int, timeout: float, heartbeat_s: float) -> None:
    # The watcher's probe runs every 2 s and a hang restart happens inside a probe, so
    # without a random delay every trial would start at the same phase of that cycle
    # (and of the beacon's 2-s writes): the spread would be an artefact of the schedule.
    rng = random.Random(run.mode.key)
    try:
        for _ in range(trials):
            wait_settled(run)
            time.sleep(rng.uniform(0, PHASE_S))
            written, blocked, warned = block_loop(run, heartbeat_s)
            trial = measure(run, written, blocked, timeout)
            trial.warned = None if warned is None else warned - blocked
            run.trials.append(trial)
    except Exception as exc:  # reported in the table; the other modes go on
        run.error = f"{type(exc).__name__}: {exc}"






def cell(values: list[float]) -> str:
    if not values:
        return f"{'-':>8}{'-':>8}"
    return f"{statistics.median(values):>7.2f}s{pct(values, 0.95):>7.2f}s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--threshold-s", type=float, default=10.0)
    ap.add_argument("--heartbeat-interval-s", type=float, default=1.0,
                    help="the simulator's keep-alive beat (discord.py: 41.25)")
    ap.add_argument("--modes", default=",".join(m.key for m in MODES))
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs")
    args = ap.parse_args()
    modes = [m for m in MODES if m.key in args.modes.split(",")]
    timeout = args.threshold_s + args.heartbeat_interval_s + 40
    runs = [Run(m, Path(tempfile.mkdtemp(prefix=f"bench-hang-{m.key}-"))) for m in modes]
    watchers: list[subprocess.Popen[bytes]] = []
    started = time.monotonic()
    try:
        for run in runs:
            cfg = write_config(run, args.threshold_s, args.heartbeat_interval_s)
            watchers.append(start_watcher(cfg, run.tmp / "watcher.log"))
        threads = [threading.Thread(target=drive,
                                    args=(run, args.trials, timeout, args.heartbeat_interval_s))
                   for run in runs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        stop_watchers(watchers, 20)
        for run in runs:
            kill_sims(run.workdir)
            if not args.keep and not run.error:
                shutil.rmtree(run.tmp, ignore_errors=True)
    report(runs, args, time.monotonic() - started)


def report(runs: list[Run], args: argparse.Namespace, elapsed: float) -> None:
    print(f"hang detection: remi-ops watch on the Remi simulator, hang_threshold_s = "
          f"{args.threshold_s:g}, heartbeat warning every 10 s, keep-alive beat every "
          f"{args.heartbeat_interval_s:g} s; {args.trials} trials per config, run side by side "
          f"in {elapsed:.0f} s")
    print("t0 = the loop blocks (its log line, polled every 1 ms); times are median / p95\n")
    print(f"{'config':28}{'1st warning':>16}{'(a) detected':>16}{'(b) restart':>16}"
          f"{'(c) new pid':>16}  n")
    print(f"{'':28}" + f"{'median':>8}{'p95':>8}" * 4)
    by_key = {r.mode.key: r for r in runs}
    for run in runs:
        t = run.trials
        warnings = [x.warned for x in t if x.warned is not None]
        print(f"{run.mode.label:28}{cell(warnings)}{cell([x.detected for x in t])}"
              f"{cell([x.restarting for x in t])}{cell([x.started for x in t])}  {len(t)}"
              + (f"  ERROR {run.error} (kept {run.tmp})" if run.error else ""))
    warn = by_key.get("warnings")
    model: dict[str, list[float]] = {}
    if warn and warn.trials and args.heartbeat_interval_s < DISCORD_HEARTBEAT_S:
        rng = random.Random(1)
        extra = DISCORD_HEARTBEAT_S - args.heartbeat_interval_s
        model = {name: [(getattr(rng.choice(warn.trials), name) or 0.0) + rng.uniform(0, extra)
                        for _ in range(10_000)]
                 for name in ("warned", "detected", "restarting", "started")}
        print(f"{'warnings only, modelled *':28}{cell(model['warned'])}{cell(model['detected'])}"
              f"{cell(model['restarting'])}{cell(model['started'])}")
        print(f"  * discord.py's real keep-alive ({DISCORD_HEARTBEAT_S} s beat): measured "
              f"warnings-only samples + U(0, {extra:g} s)")
    beacon = by_key.get("beacon")
    if beacon and beacon.trials and warn and warn.trials:
        print("\nratio warnings only / beacon + warnings (medians):")
        for name, what in (("detected", "(a) detected"), ("restarting", "(b) restart")):
            w = statistics.median(getattr(x, name) for x in warn.trials)
            b = statistics.median(getattr(x, name) for x in beacon.trials)
            line = f"  {what:14} {w / b:5.2f}x  ({w:.2f} s vs {b:.2f} s)"
            if name in model:
                m = statistics.median(model[name])
                line += f"; modelled discord.py {m / b:5.2f}x ({m:.2f} s)"
            print(line)
    every = [x for r in runs for x in r.trials]
    if every:
        delays = [x.write_to_block for x in every]
        print(f"\ncheck: control-file write → loop blocked: median {statistics.median(delays):.3f}"
              f" s, max {max(delays):.3f} s (the simulator polls every {SIM_POLL_S} s)")
    for run in runs:
        if run.trials:
            reasons = sorted({x.first_reason for x in run.trials})
            print(f"first 'unhealthy' reason, {run.mode.label}: {'; '.join(reasons[:3])}")


if __name__ == "__main__":
    main()
