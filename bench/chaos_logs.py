"""The chaos table's log faults: rotation during a counted burst, a traceback in pieces.

Both are done to the log a real ``remi-ops watch`` follows while a real Remi writes it
(its stderr, opened for append by the watcher), and counted in the watcher's store.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable
from itertools import pairwise

from bubabot_local.logkit import DATA
from chaos_rig import (
    Rig,
    Row,
    alert_summary,
    alerts,
    bot,
    cpu,
    pids,
    query,
    running_cell,
    settle,
    wait_for,
)

BURST = 2000
#: on a "go" file, BURST numbered errors on stderr, one a millisecond, then "done"
#: (tests/remi_ops/watch/test_rotation.py's writer, as a Remi the watcher runs)
BURSTER = f"""
import pathlib, sys, time
if "--quiet" not in sys.argv:  # discord.py logs a line or two at start
    sys.stderr.write("[2026-01-24 03:01:00] [INFO    ] discord.client: logging in\\n")
    sys.stderr.flush()
while not pathlib.Path("go").exists():
    time.sleep(0.05)
for i in range({BURST}):
    sys.stderr.write(f"[2026-01-24 03:01:10] [ERROR   ] remi.bot: scan failed #{{i}}\\n")
    sys.stderr.flush()
    time.sleep(0.001)
pathlib.Path("done").write_text("y")
time.sleep(600)
"""
#: the seed's "Ignoring exception in command 'scan'" record (header, traceback, chain)
SCAN_ERROR = "".join((DATA / "incident_plain.log").read_text(encoding="utf-8")
                     .splitlines(keepends=True)[4:28])
HOLD_S = 10.0  # remi_ops.logs.holdback.HOLD_S: how long an unfinished record is held


def rotation(style: str, quiet: bool = False) -> Callable[[Rig], Row]:
    """``quiet``: the bot writes nothing before the burst, so the watcher's last read
    before the rotation may have seen an empty file."""
    def scenario(rig: Rig) -> Row:
        cfg = rig.config(rig.target(command=bot(rig, BURSTER) + (["--quiet"] if quiet else [])))
        workdir = rig.tmp / "remi"
        log = workdir / "bot_error.log"
        w = rig.watch(cfg)
        settle(rig, workdir)
        time.sleep(2)
        (workdir / "go").touch()

        def written() -> int:
            return log.read_bytes().count(b"scan failed #")
        wait_for(lambda: written() > BURST // 4, 30, "a quarter written", step=0.005)
        writer = pids(workdir)
        if style == "create":
            os.rename(log, log.with_name("bot_error.log.1"))
            log.touch()
        else:
            wait_for(lambda: written() > BURST // 2, 30, "half written", step=0.005)
            for pid in writer:  # logrotate's copy + truncate with the writer held still
                os.kill(pid, signal.SIGSTOP)
            try:
                shutil.copyfile(log, log.with_name("bot_error.log.1"))
                os.truncate(log, 0)
            finally:
                for pid in writer:
                    os.kill(pid, signal.SIGCONT)
        wait_for((workdir / "done").exists, 60, "the burst written")
        time.sleep(HOLD_S + 5)  # the last line is held for its traceback, then given up

        def counted() -> int:
            rows = query(rig.tmp / "state" / "bubabot.sqlite3",
                         "SELECT coalesce(sum(count), 0) FROM error_groups WHERE target='remi'")
            return int(rows[0][0]) if rows else -1
        total, groups = counted(), query(rig.tmp / "state" / "bubabot.sqlite3",
                                         "SELECT count(*) FROM error_groups")
        first = ", nothing logged before it" if quiet else ""
        return Row(f"{style} rotation during a {BURST}-error burst{first}",
                   f"counted {total} of {BURST} ({'exact' if total == BURST else 'WRONG'}), "
                   f"{groups[0][0] if groups else '?'} group(s)",
                   copies=str(len(pids(workdir))),
                   running=running_cell(rig.tmp / "state", workdir),
                   alerts=alert_summary(alerts(workdir)), cpu=cpu(w))
    return scenario


def traceback_in_pieces(rig: Rig) -> Row:
    cfg = rig.config(rig.target())
    workdir = rig.tmp / "remi"
    w = rig.watch(cfg)
    settle(rig, workdir)
    time.sleep(3)
    lines = SCAN_ERROR.splitlines(keepends=True)
    cuts = [0, 1, 2, 6, 10, 15, len(lines)]
    for (a, b), pause in zip(pairwise(cuts), [5, 1, 3, 4, 2, 1], strict=True):
        with open(workdir / "bot_error.log", "a", encoding="utf-8") as fh:
            fh.write("".join(lines[a:b]))
        time.sleep(pause)
    time.sleep(HOLD_S / 2)
    groups = query(rig.tmp / "state" / "bubabot.sqlite3",
                   "SELECT title, count FROM error_groups WHERE target = 'remi'")
    names = [f"{str(t)[:50]} ×{c}" for t, c in groups]
    return Row("the seed traceback written in 6 pieces over 16 s",
               f"{len(groups)} group(s): {'; '.join(names)}",
               copies=str(len(pids(workdir))), running=running_cell(rig.tmp / "state", workdir),
               alerts=alert_summary(alerts(workdir)), cpu=cpu(w))


