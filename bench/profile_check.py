"""Where one idle check's CPU goes: N checks of a ``sleep`` target through the real
``TargetWatch.check`` (store, ``.bot_health``, logs, process snapshot), under cProfile.

    .venv/bin/python bench/profile_check.py --checks 2000

Prints the CPU µs per check (``time.process_time``) without the profiler, then the
profile's cumulative split per step (observe, assess, record, …) in µs per check.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from remi_ops.alerts.model import Condition  # noqa: E402  (after the path is set)
from remi_ops.clock import SystemClock  # noqa: E402
from remi_ops.config_file import load_settings  # noqa: E402
from remi_ops.domain import Event  # noqa: E402
from remi_ops.store.database import Store  # noqa: E402
from remi_ops.watch.target import TargetWatch  # noqa: E402

SLEEP = shutil.which("sleep") or "/bin/sleep"
#: the steps of a check, as the report splits it
STEPS = ("observe", "snapshot", "read", "restarts_recent", "standing_of", "beacon", "code",
         "duplicates", "assess", "_decide", "_act", "record_outcome", "record_health",
         "_with_totals", "drain_events")


class Quiet:
    """A notifier that keeps nothing (the alert engine is not what is measured)."""

    def observe(self, now: datetime, target: str, conditions: list[Condition]) -> None:
        pass

    def event(self, event: Event) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--callees", default="",
                        help="a regex of functions whose callees to print (pstats)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="profile-check-"))
    workdir = root / "w"
    workdir.mkdir()
    (root / "cfg.toml").write_text(f"""[watchdog]
state_dir = "{root / "state"}"
[[targets]]
name = "t"
workdir = "{workdir}"
command = ["{SLEEP}", "600"]
[targets.scan_test]
after_restart = false
""", encoding="utf-8")
    settings = load_settings(root / "cfg.toml")
    clock = SystemClock()
    store = Store.open(settings.state_dir / "bubabot.sqlite3", clock)
    watch = TargetWatch(settings, settings.targets[0], store=store, clock=clock,
                        notifier=Quiet(), environ={})
    watch.startup()
    try:
        time.sleep(1.5)
        for _ in range(50):  # warm: the first checks attach to the logs, cache imports
            watch.check()
        began = time.process_time()
        for _ in range(args.checks):
            watch.check()
        cpu_us = (time.process_time() - began) * 1e6 / args.checks
        print(f"{cpu_us:.0f} µs CPU per check (no profiler), {args.checks} checks")
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.checks):
            watch.check()
        prof.disable()
        stats = pstats.Stats(prof)
        total = max(v[3] for v in stats.stats.values())  # type: ignore[attr-defined]
        print(f"profiled: {total * 1e6 / args.checks:.0f} µs per check (with overhead)")
        for (_, _, name), (_, _, _, cum, _) in sorted(
                stats.stats.items(), key=lambda kv: -kv[1][3]):  # type: ignore[attr-defined]
            if name in STEPS:
                print(f"  {name:<18}{cum * 1e6 / args.checks:>8.0f} µs")
        stats.sort_stats("tottime").print_stats(25)
        if args.callees:
            stats.print_callees(args.callees)
    finally:
        watch.stop("profile", "done")
        store.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
