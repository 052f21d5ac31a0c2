"""Many targets under one ``remi-ops watch``, against supervisord in the same run.

For each count of ``/bin/sleep`` targets (1, 10, 50, 200 by default) it starts one
``remi-ops watch`` and one ``supervisord`` with the same programs, each in workdirs of its
own, lets them settle, then measures for both:

* idle CPU % of the supervisor process (and per target) and its RSS, over ``--idle-s``
  (the CPU time as the scheduler counts it, in ns: ``simproc.cpu_seconds``);
  for remi-ops also the CPU per check: the CPU time used in that window over the checks
  that began in it (what little the idle watcher does besides is counted in);
* check wait and check run (remi-ops only), from each target's ``.bot_health``: a check
  is due ``check_interval_s`` after the previous one ended (the file's mtime: it is
  written last), so its wait is its ``checked_at`` (when it began to look) minus that
  due time; its run is the file's mtime minus its ``checked_at`` (measured on the checks
  that rewrote the file: one that found nothing new moves only its mtime);
* kill → noticed and kill → back, over ``--rounds`` rounds of ``--burst`` targets
  SIGKILLed at once: noticed is the watcher's recorded running→backoff transition (the
  ``exited:`` line in supervisord's log); back is the new process's start time.

Prints the table, then the ratios remi-ops / supervisord. The machine's load average is
printed first: the figures mean little on a busy machine.

    .venv/bin/pip install -e '.[bench]'   # supervisord
    .venv/bin/python bench/bench_scale.py [--targets 1 10 50 200] [--check-interval 5]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil
from simproc import cpu_seconds, pct, start_watcher, stop_watchers

SLEEP = shutil.which("sleep") or "/bin/sleep"


@dataclass
class Figures:
    """What one system did with N targets."""

    noticed: list[float] = field(default_factory=list)
    back: list[float] = field(default_factory=list)
    check_wait: list[float] = field(default_factory=list)
    check_run: list[float] = field(default_factory=list)
    cpu_pct: float = float("nan")
    rss_mb: float = float("nan")
    #: CPU ms per check over the idle window (remi-ops only)
    cpu_per_check_ms: float = float("nan")


# ------------------------------------------------------------------ the two systems


def ops_config(root: Path, n: int, interval: float) -> Path:
    parts = [f'[watchdog]\ncheck_interval_s = {interval}\nstate_dir = "{root / "state"}"\n']
    for i in range(n):
        workdir = root / f"w{i:03}"
        workdir.mkdir(parents=True)
        parts.append(f"""
[[targets]]
name = "t{i:03}"
workdir = "{workdir}"
command = ["{SLEEP}", "600"]
[targets.restart]
stable_after_s = 1
budget_restarts = 1000
stop_grace_s = 1
[targets.scan_test]
after_restart = false
""")
    path = root / "bench.toml"
    path.write_text("".join(parts), encoding="utf-8")
    return path


def supervisord_config(root: Path, n: int) -> Path:
    parts = [f"""[supervisord]
nodaemon = true
logfile = {root / 'supervisord.log'}
pidfile = {root / 'supervisord.pid'}
loglevel = info
"""]
    for i in range(n):
        workdir = root / f"w{i:03}"
        workdir.mkdir(parents=True)
        parts.append(f"""
[program:t{i:03}]
command = {SLEEP} 600
directory = {workdir}
autorestart = true
startsecs = 0
startretries = 1000
stopsignal = KILL
""")
    path = root / "supervisord.conf"
    path.write_text("".join(parts), encoding="utf-8")
    return path


def start_supervisord(conf: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ------------------------------------------------------------------ looking from outside


def running(root: Path) -> dict[str, tuple[int, float]]:
    """workdir name → (pid, start time) of the sleepers running under ``root``."""
    found: dict[str, tuple[int, float]] = {}
    for proc in psutil.process_iter(["pid", "cwd", "create_time", "name"]):
        cwd = proc.info["cwd"]
        if proc.info["name"] == "sleep" and cwd and Path(cwd).parent == root:
            found[Path(cwd).name] = (proc.info["pid"], proc.info["create_time"])
    return found


def start_time_offset() -> float:
    """How far psutil's process start times sit from ``time.time()`` on this machine.

    They are the boot time (whole seconds in /proc/stat) plus clock ticks, so they can be
    off by up to a second, the same for every process: a child started now calibrates it.
    """
    before = time.time()
    child = subprocess.Popen([SLEEP, "0"])
    try:
        return psutil.Process(child.pid).create_time() - before
    finally:
        child.wait()


def wait_for(probe, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")


def ops_noticed(db: Path) -> dict[str, list[float]]:
    """target → epoch times of its running→backoff transitions."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT target, at FROM transitions "
                            "WHERE to_state = 'backoff'").fetchall()
    out: dict[str, list[float]] = {}
    for target, at in rows:
        out.setdefault(target, []).append(datetime.fromisoformat(at).timestamp())
    return out


def supervisord_noticed(log: Path) -> dict[str, list[float]]:
    """program → epoch times of its ``exited:`` lines (local time, millisecond)."""
    out: dict[str, list[float]] = {}
    for line in log.read_text("utf-8", errors="replace").splitlines():
        if " exited: " not in line:
            continue
        stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        name = line.split(" exited: ", 1)[1].split(" ", 1)[0]
        out.setdefault(name, []).append(stamp)
    return out


def check_times(root: Path, n: int) -> dict[str, tuple[float, float]]:
    """workdir name → (``checked_at``, written at) of its current ``.bot_health`` (epoch)."""
    seen: dict[str, tuple[float, float]] = {}
    for i in range(n):
        path = root / f"w{i:03}" / ".bot_health"
        try:
            written = path.stat().st_mtime
            doc = json.loads(path.read_text("utf-8"))
            seen[f"w{i:03}"] = (datetime.fromisoformat(doc["checked_at"]).timestamp(), written)
        except (OSError, ValueError, KeyError):
            continue
    return seen


# ------------------------------------------------------------------ one count of targets


def idle(procs: dict[str, psutil.Process], seconds: float, ops_root: Path, n: int,
         interval: float) -> tuple[dict[str, tuple[float, float]], list[float], list[float],
                                   float]:
    """CPU % and RSS of each supervisor over ``seconds``, and remi-ops' check waits and
    run times, and its CPU ms per check that began in that window (nan: none did)."""
    before = {k: cpu_seconds(p.pid) for k, p in procs.items()}
    started, window_start = time.monotonic(), time.time()
    checks: dict[str, set[tuple[float, float]]] = {}
    while time.monotonic() - started < seconds:
        for name, at in check_times(ops_root, n).items():
            checks.setdefault(name, set()).add(at)
        time.sleep(min(0.5, interval / 4))
    took = time.monotonic() - started
    out, used_s = {}, {}
    for k, p in procs.items():
        used = cpu_seconds(p.pid) - before[k]
        out[k], used_s[k] = (100.0 * used / took, p.memory_info().rss / 2**20), used
    waits, runs, began_in = [], [], 0
    for times in checks.values():
        # a check that found nothing new only moves the mtime (``checks.healthbeat``): it
        # is counted (from its mtime), but its start is known only for a rewrite, whose
        # ``checked_at`` is its own (a touched file's is an interval old or more)
        ordered = sorted(times, key=lambda t: t[1])
        rewrites = {(b, w) for b, w in ordered if w - b < interval / 2}
        runs += [max(0.0, written - began) for began, written in rewrites]
        waits += [max(0.0, began - (written + interval))
                  for (_, written), (began, now) in itertools.pairwise(ordered)
                  if (began, now) in rewrites]
        began_in += sum(1 for began, written in ordered
                        if (began if (began, written) in rewrites else written) >= window_start)
    per_check = used_s["remi-ops"] * 1000 / began_in if began_in else float("nan")
    return out, waits, runs, per_check


def kills(root: Path, rounds: int, burst: int, rng: random.Random, offset: float) -> list[
        tuple[str, float, float]]:
    """SIGKILL ``burst`` targets at once, ``rounds`` times: (name, killed at, back at)."""
    out = []
    for _ in range(rounds):
        now = running(root)
        names = rng.sample(sorted(now), min(burst, len(now)))
        killed_at = time.time()
        for name in names:
            os.kill(now[name][0], signal.SIGKILL)

        def all_back(names: list[str] = names, old: dict[str, tuple[int, float]] = now
                     ) -> dict[str, tuple[int, float]] | None:
            cur = running(root)
            done = all(name in cur and cur[name][0] != old[name][0] for name in names)
            return cur if done else None

        cur = wait_for(all_back, 120, f"{len(names)} killed targets back")
        out += [(name, killed_at, cur[name][1] - offset) for name in names]
        time.sleep(1.5)  # past stable_after_s: each death follows stable running
    return out


def measure(n: int, args: argparse.Namespace, rng: random.Random) -> dict[str, Figures]:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-scale-{n}-"))
    ops_root, sup_root = tmp / "ops", tmp / "sup"
    watcher = start_watcher(ops_config(ops_root, n, args.check_interval), tmp / "watch.log")
    sup = start_supervisord(supervisord_config(sup_root, n))
    figures = {"remi-ops": Figures(), "supervisord": Figures()}
    try:
        for root in (ops_root, sup_root):
            wait_for(lambda root=root: len(running(root)) == n, 60 + n, f"{n} sleepers")
        time.sleep(args.check_interval + 2)  # past the start-up checks
        procs = {"remi-ops": psutil.Process(watcher.pid), "supervisord": psutil.Process(sup.pid)}
        usage, waits, runs, per_check_ms = idle(procs, args.idle_s, ops_root, n,
                                                args.check_interval)
        figures["remi-ops"].check_wait, figures["remi-ops"].check_run = waits, runs
        for name, (cpu, rss) in usage.items():
            figures[name].cpu_pct, figures[name].rss_mb = cpu, rss
        figures["remi-ops"].cpu_per_check_ms = per_check_ms
        for system, root in (("remi-ops", ops_root), ("supervisord", sup_root)):
            done = kills(root, args.rounds, args.burst, rng, start_time_offset())
            time.sleep(0.5)
            seen = (ops_noticed(ops_root / "state" / "bubabot.sqlite3") if system == "remi-ops"
                    else supervisord_noticed(sup_root / "supervisord.log"))
            for name, killed_at, back_at in done:
                label = f"t{name[1:]}"
                later = [t for t in seen.get(label, []) if t >= killed_at - 0.01]
                figures[system].noticed.append(  # log stamps are ms
                    max(0.0, min(later) - killed_at) if later else float("nan"))
                figures[system].back.append(back_at - killed_at)
    finally:
        stop_watchers([watcher], 30)
        sup.send_signal(signal.SIGTERM)
        try:
            sup.wait(30)
        except subprocess.TimeoutExpired:
            sup.kill()
        for root in (ops_root, sup_root):
            for pid, _ in running(root).values():
                os.kill(pid, signal.SIGKILL)
    return figures


# ------------------------------------------------------------------ the table


def med(values: list[float]) -> float:
    clean = [v for v in values if v == v]
    return statistics.median(clean) if clean else float("nan")


def p95(values: list[float]) -> float:
    clean = [v for v in values if v == v]
    return pct(clean, 0.95) if clean else float("nan")


def show(results: dict[int, dict[str, Figures]]) -> None:
    head = (f"{'targets':>7} {'system':<12}{'noticed med':>12}{'p95':>8}{'back med':>10}"
            f"{'p95':>8}{'check wait med':>15}{'p95':>8}{'run med':>9}{'idle CPU %':>11}"
            f"{'/target':>9}{'ms/check':>9}{'RSS MB':>8}")
    print(head)
    for n, by_system in results.items():
        for system, f in by_system.items():
            lag = (f"{med(f.check_wait) * 1000:>13.0f}ms{p95(f.check_wait) * 1000:>6.0f}ms"
                   f"{med(f.check_run) * 1000:>7.0f}ms"
                   if f.check_wait else f"{'—':>15}{'—':>8}{'—':>9}")
            print(f"{n:>7} {system:<12}{med(f.noticed):>11.3f}s{p95(f.noticed):>7.3f}s"
                  f"{med(f.back):>9.3f}s{p95(f.back):>7.3f}s{lag}{f.cpu_pct:>10.2f}%"
                  f"{f.cpu_pct / n:>8.3f}%{per_check(f):>9}{f.rss_mb:>8.1f}")
    print("\nratios remi-ops / supervisord (below 1: remi-ops is better)")
    print(f"{'targets':>7}{'noticed':>11}{'back':>11}{'idle CPU':>11}{'RSS':>8}")
    for n, by_system in results.items():
        ops, sup = by_system["remi-ops"], by_system["supervisord"]
        print(f"{n:>7}{ratio(med(ops.noticed), med(sup.noticed)):>11}"
              f"{ratio(med(ops.back), med(sup.back)):>11}"
              f"{ratio(ops.cpu_pct, sup.cpu_pct):>11}{ratio(ops.rss_mb, sup.rss_mb):>8}")


def per_check(f: Figures) -> str:
    """CPU ms per check, or a dash (supervisord has no checks; none began in the window)."""
    return f"{f.cpu_per_check_ms:.2f}" if f.cpu_per_check_ms == f.cpu_per_check_ms else "—"


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs > 0 else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, nargs="+", default=[1, 10, 50, 200])
    parser.add_argument("--check-interval", type=float, default=5.0)
    parser.add_argument("--idle-s", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--burst", type=int, default=5)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f} on {os.cpu_count()} cores; check_interval_s "
          f"{args.check_interval:g}, {args.rounds} rounds of {args.burst} kills at once")
    rng = random.Random(12)
    results = {n: measure(n, args, rng) for n in args.targets}
    show(results)


if __name__ == "__main__":
    main()
