"""Health tells the truth about the *current* Remi: real simulator processes, real logs, a
real store. The watch is driven by hand (no background loops), so nothing checks between
the steps a test takes, except in the hang test, which needs the watcher's probe.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from bubabot_local.simkit import control, sim_settings, sims_in

from remi_ops.alerts import text
from remi_ops.checks.evidence import excerpt
from remi_ops.domain import AlertKind, Check, HealthReport, Status, Trigger
from remi_ops.testing import wait_until, wait_until_async
from remi_ops.watch.conditions import conditions_of
from remi_ops.watch.target import TargetWatch
from remi_ops.watch.watcher import Watcher

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("reap_sims")]


@pytest.fixture
def watch(tmp_path: Path) -> Iterator[TargetWatch]:
    """One target's watch with a started simulator; no loops run."""
    watcher = Watcher(sim_settings(tmp_path), console=None, environ={})
    watcher.acquire_locks()
    try:
        one = watcher.watch(None)
        one.startup()
        wait_until(lambda: sims_in(one.target.workdir), what="remi started")
        wait_until(lambda: "has connected to Gateway" in log_text(one), what="connected")
        time.sleep(one.target.restart.start_seconds + 0.1)  # past "starting"
        yield one
    finally:
        watcher.close()


def log_text(watch: TargetWatch) -> str:
    path = watch.target.stderr_log
    return path.read_text(encoding="utf-8") if path.exists() else ""


def reasons(report: HealthReport) -> str:
    return "\n".join(report.reasons)


def test_an_old_fatal_line_does_not_make_the_restarted_remi_down(watch: TargetWatch) -> None:
    """The runbook: fix the token → restart → health. The "Improper token" line the old
    process wrote (still unread at the restart) is not about the new one: exit 0."""
    old = sims_in(watch.target.workdir)[0].pid
    control(watch.target.workdir, do="log", level="ERROR", logger="discord.client",
            message="Improper token has been passed.")
    wait_until(lambda: "Improper token" in log_text(watch), what="the fatal line")
    time.sleep(2.1)  # the log stamps whole seconds: the restart comes well after that one
    restart = watch.restart("ana", "token fixed")
    assert restart.ok and restart.new_pid != old
    time.sleep(watch.target.restart.start_seconds + 0.1)
    report = watch.check()
    assert report.healthy, reasons(report)
    assert text.health_lines(report)[0] == "remi: healthy"


def test_a_recent_error_group_keeps_health_from_saying_healthy(watch: TargetWatch) -> None:
    """Right after the NameError alert, a quiet check is not health: exit 1, naming it."""
    control(watch.target.workdir, do="error")
    wait_until(lambda: "NameError" in log_text(watch), what="the NameError")
    first = watch.check()
    assert not first.healthy and "NameError" in reasons(first)
    quiet = watch.check()
    assert quiet.status is Status.DEGRADED
    recent = [f.summary for f in quiet.findings if f.check is Check.RECENT_ERRORS]
    assert len(recent) == 1 and "NameError" in recent[0] and "last 10m" in recent[0]


def test_frozen_or_dead_in_maintenance_is_never_healthy_and_connected(
        watch: TargetWatch) -> None:
    """The gateway state goes with the process; maintenance does not make a dead bot fine."""
    assert watch.check().gateway == "connected"
    frozen_pid = sims_in(watch.target.workdir)[0].pid
    os.kill(frozen_pid, signal.SIGSTOP)  # a frozen bot is down (and restarted: a new pid)
    frozen = wait_until(lambda: r if (r := watch.check()).status is Status.DOWN else None,
                        what="frozen seen")
    assert frozen.gateway == "" and "frozen" in reasons(frozen)
    pid = wait_until(lambda: [p.pid for p in sims_in(watch.target.workdir)
                              if p.pid != frozen_pid], what="the new process")[0]
    now = watch.clock.now()
    watch.maintenance(now + timedelta(hours=1), "ana", "deploy")
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)  # our child (no exit waiter runs here): gone, not a zombie
    dead = watch.check()
    assert not dead.healthy and dead.gateway == ""
    assert "not running (maintenance)" in reasons(dead)
    assert AlertKind.DOWN not in {c.key.kind for c in conditions_of(dead, (), gave_up=None)}


async def test_after_a_hang_restart_health_is_clean_and_the_evidence_names_the_call(
        tmp_path: Path) -> None:
    """The simulator's loop really blocks under ``fetch_track``: the restart names the
    blocking frame, carries Remi's frames first, and the new process is healthy at once."""
    settings = sim_settings(tmp_path, target={"scan_test": {"after_restart": False}})
    watcher = Watcher(settings, console=None, environ={})
    watcher.acquire_locks()
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        watch = watcher.watch(None)
        workdir = watch.target.workdir
        old = (await wait_until_async(lambda: sims_in(workdir), what="remi running"))[0].pid
        control(workdir, do="hang", seconds=3600)
        restarts = await wait_until_async(
            lambda: [r for r in watcher.store.restarts("remi", watch.clock.now().replace(
                year=2000)) if r.trigger is Trigger.HANG], timeout=20, what="hang restart")
        hang = restarts[-1]
        assert hang.old_pid == old and hang.ok
        assert " in _read_response (remi_sim_faults.py:" in hang.reason
        stuck = hang.evidence.split("== where the event loop is stuck ==\n", 1)[1]
        assert stuck.startswith("Blocked in _read_response (remi_sim_faults.py:")
        assert stuck.index("fetch_track (remi_sim_faults.py:") < stuck.index("base_events.py")
        assert "score_track_sync" in excerpt(hang.evidence, 1000)
        await asyncio.sleep(watch.target.restart.start_seconds + 0.2)
        report = await asyncio.to_thread(watch.check)
        assert not [f for f in report.findings if f.check is Check.EVENT_LOOP]
        assert report.healthy, reasons(report)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        watcher.close()
