"""Where an idle ``remi-ops watch`` spends its CPU, everything included: per thread, per check.

``bench/profile_check.py`` measures one target's check in a loop of its own; this runs a
real ``remi-ops watch`` of N ``sleep`` targets (the configuration ``bench_scale`` builds),
waits past the start-up checks, then over ``--window-s`` (by default one check interval
and a little: it holds one round of checks) reads:

* the watcher's CPU per thread (``/proc/<pid>/task/*/stat`` utime + stime, grouped by
  thread name: the loop ``MainThread``, ``remi-check_*``, ``remi-deliver_*`` …), in ms
  and in µs per check that began in the window (a check is counted by its target's
  ``.bot_health`` changing: a ``stat``, which wakes nothing in the watcher);
* with ``--strace``, the system calls of the whole process over the window (``strace -c
  -f``; it slows the watcher, so read the counts, not the CPU);
* with ``--py-spy FILE``, py-spy's samples of the window (active threads only, 200 Hz):
  collapsed stacks per thread for a ``.txt`` (``grep``/``sort`` them), else a flame graph.

    .venv/bin/python bench/profile_watch.py --targets 50 [--interval 60] [--strace]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench_scale import ops_config, running, wait_for
from simproc import cpu_seconds, start_watcher, stop_watchers

TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[int, float]:
    """Thread id → CPU seconds it used so far, as the scheduler counts them (``schedstat``,
    ns; see ``simproc.cpu_seconds``), else in clock ticks (``stat``)."""
    out: dict[int, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", encoding="ascii") as f:
                out[int(tid)] = int(f.read().split()[0]) / 1e9
            continue
        except (OSError, ValueError, IndexError):
            pass
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / TICK
    return out


def thread_names(pid: int) -> dict[int, str]:
    """Thread id → Python thread name with the pool index stripped (``remi-check``), read
    by ``py-spy dump`` (Python does not give its threads' names to the kernel); {} without
    py-spy."""
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        return {}
    out = subprocess.run([str(spy), "dump", "--nonblocking", "--pid", str(pid)],
                         capture_output=True, text=True, check=False).stdout
    names = {}
    for line in out.splitlines():
        m = re.match(r'Thread (\d+) \(\w+\): "(.*)"', line)
        if m:
            names[int(m[1])] = m[2].rstrip("0123456789").rstrip("_")
    return names


def by_name(cpu: dict[int, float], names: dict[int, str]) -> dict[str, float]:
    out: Counter[str] = Counter()
    for tid, spent in cpu.items():
        out[names.get(tid, f"thread {tid}")] += spent
    return dict(out)


def health_mtimes(root: Path, n: int) -> dict[int, int]:
    seen = {}
    for i in range(n):
        try:
            seen[i] = (root / f"w{i:03}" / ".bot_health").stat().st_mtime_ns
        except OSError:
            continue
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=50)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--window-s", type=float, default=0.0,
                        help="how long to measure (default: the interval + 10 s)")
    parser.add_argument("--settle-s", type=float, default=None,
                        help="wait this long after the sleepers run (default: the interval "
                        "+ 2 s, past the start-up checks)")
    parser.add_argument("--strace", action="store_true")
    parser.add_argument("--py-spy", dest="pyspy", default="",
                        help="write a py-spy profile of the window here: collapsed "
                        "stacks if it ends in .txt, else a flame graph (svg)")
    args = parser.parse_args()
    window = args.window_s or args.interval + 10
    tmp = Path(tempfile.mkdtemp(prefix=f"profile-watch-{args.targets}-"))
    root = tmp / "ops"
    watcher = start_watcher(ops_config(root, args.targets, args.interval), tmp / "watch.log")
    tracer: subprocess.Popen[bytes] | None = None
    try:
        wait_for(lambda: len(running(root)) == args.targets, 60 + args.targets, "sleepers")
        time.sleep(args.interval + 2 if args.settle_s is None else args.settle_s)
        if args.strace:
            tracer = subprocess.Popen(["strace", "-c", "-f", "-o", str(tmp / "strace.txt"),
                                       "-p", str(watcher.pid)])
        elif args.pyspy:
            tracer = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--nonblocking",
                 "--threads", "-r", "200", "-f", "raw" if args.pyspy.endswith(".txt") else
                 "flamegraph", "-o", args.pyspy, "-d", str(int(window)), "-p",
                 str(watcher.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before, marks = thread_cpu(watcher.pid), health_mtimes(root, args.targets)
        total_before = cpu_seconds(watcher.pid)
        began = time.monotonic()
        checks = 0
        while time.monotonic() - began < window:
            time.sleep(0.5)
            now = health_mtimes(root, args.targets)
            checks += sum(1 for i, m in now.items() if marks.get(i) != m)
            marks = now
        took = time.monotonic() - began
        after = thread_cpu(watcher.pid)
        names = thread_names(watcher.pid)
        spent_by = by_name({t: c - before.get(t, 0.0) for t, c in after.items()}, names)
        used = cpu_seconds(watcher.pid) - total_before
        print(f"load average {os.getloadavg()[0]:.2f}; {args.targets} targets, check every "
              f"{args.interval:g} s; {took:.0f} s window, {checks} checks")
        print(f"watcher CPU {used * 1000:.0f} ms ({100 * used / took:.3f} %), "
              f"{used * 1e6 / max(checks, 1):.0f} µs per check all included")
        for name, spent in sorted(spent_by.items(), key=lambda kv: -kv[1]):
            if spent > 0:
                print(f"  {name:<22}{spent * 1000:>8.0f} ms{spent * 1e6 / max(checks, 1):>8.0f}"
                      " µs/check")
        if tracer is not None:
            if args.strace:
                tracer.send_signal(2)
            tracer.wait(60)
            if args.strace:
                print((tmp / "strace.txt").read_text("utf-8"))
    finally:
        if tracer is not None and tracer.poll() is None:
            tracer.kill()
        stop_watchers([watcher], 30)
        for pid, _ in running(root).values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
