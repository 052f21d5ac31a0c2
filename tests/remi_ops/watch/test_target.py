"""The watchdog end to end with real processes: deaths, crash loops, hangs, two watchers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from bubabot_local.simkit import SIM, control, sim_settings, sims_in

from remi_ops.clock import SystemClock
from remi_ops.config import Settings
from remi_ops.exceptions import LockHeld
from remi_ops.supervision.supervisor import State
from remi_ops.testing import wait_until_async as until
from remi_ops.watch.act import HANG_STOP_GRACE_S
from remi_ops.watch.watcher import Watcher

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("reap_sims")]

T = TypeVar("T")



class Running:
    def __init__(self, watcher: Watcher, task: asyncio.Task[None], stop: asyncio.Event) -> None:
        self.watcher, self.task, self.stop = watcher, task, stop
        self.watch = watcher.watch(None)


async def start_watcher(settings: Settings) -> Running:
    assembled = Watcher(settings, console=None, environ={})
    assembled.acquire_locks()
    stop = asyncio.Event()
    task = asyncio.create_task(assembled.run(stop))
    running = Running(assembled, task, stop)
    await until(lambda: running.watch.supervisor.state is State.RUNNING
                and sims_in(settings.targets[0].workdir), what="remi running")
    return running


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    started = await start_watcher(sim_settings(tmp_path))
    yield started
    started.stop.set()
    await asyncio.wait_for(started.task, 15)
    started.watcher.close()


def alert_lines(settings: Settings) -> list[dict[str, Any]]:
    path = settings.targets[0].alert_file
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_kill_9_is_noticed_within_a_second_and_restarted(running: Running) -> None:
    """A SIGKILLed Remi is noticed as an event and restarted at once (first crash)."""
    workdir = running.watch.target.workdir
    old = sims_in(workdir)[0]
    killed_at = time.monotonic()
    os.kill(old.pid, signal.SIGKILL)
    new = await until(lambda: [p for p in sims_in(workdir) if p.pid != old.pid],
                      what="a new simulator")
    assert time.monotonic() - killed_at < 3.0
    assert len(new) == 1
    store = running.watcher.store
    crash = await until(lambda: [r for r in store.restarts("remi", _epoch())
                                 if r.trigger == "crash"], what="the crash restart record")
    assert crash[0].ok


async def test_a_blocked_event_loop_is_detected_evidenced_restarted_and_scan_tested(
        running: Running) -> None:
    """The seed incident: loop blocked → stack naming the blocking call → restart → scan."""
    workdir = running.watch.target.workdir
    old = sims_in(workdir)[0]
    control(workdir, do="hang", seconds=3600)
    await until(lambda: [p for p in sims_in(workdir) if p.pid != old.pid], timeout=20,
                what="restart after hang")
    store = running.watcher.store
    restart = (await until(lambda: [r for r in store.restarts("remi", _epoch())
                                    if r.trigger == "hang"], what="hang restart"))[-1]
    assert "fetch_track" in restart.evidence
    assert "blocked" in restart.reason
    scan = await until(lambda: store.last_scan("remi"), timeout=15, what="scan test")
    assert scan.ok, scan


async def test_a_hung_remi_is_not_given_the_whole_stop_grace(tmp_path: Path) -> None:
    """A blocked loop cannot run its SIGTERM handler: the hang restart waits
    ``HANG_STOP_GRACE_S``, not a 30-s ``stop_grace_s`` (found with the example config:
    10 s of a 72-s hang restart went to waiting for a SIGTERM that could not work)."""
    started = await start_watcher(sim_settings(tmp_path, target={
        "restart": {"stop_grace_s": 30, "stable_after_s": 600, "start_seconds": 0.5}}))
    try:
        control(started.watch.target.workdir, do="hang", seconds=3600)
        store = started.watcher.store
        restart = (await until(lambda: [r for r in store.restarts("remi", _epoch())
                                        if r.trigger == "hang"], timeout=40,
                               what="hang restart"))[-1]
        assert restart.ok and restart.duration_s < HANG_STOP_GRACE_S + 5, restart
    finally:
        started.stop.set()
        await asyncio.wait_for(started.task, 15)
        started.watcher.close()


async def test_crash_loop_backs_off_then_gives_up_and_escalates(tmp_path: Path) -> None:
    """A bot that dies right after every start is not restarted in a hot loop."""
    settings = sim_settings(tmp_path, target={
        "command": [*SIM, "--crash-after", "0.05"],
        "restart": {"backoff_initial_s": 0.2, "budget_restarts": 3, "budget_window_s": 60},
        "scan_test": {"after_restart": False}})
    assembled = Watcher(settings, console=None, environ={})
    assembled.acquire_locks()
    stop = asyncio.Event()
    task = asyncio.create_task(assembled.run(stop))
    try:
        watch = assembled.watch(None)
        await until(lambda: watch.supervisor.state is State.GAVE_UP, timeout=20,
                    what="gave up")
        transitions = assembled.store.transitions("remi", _epoch())
        delays = [float(t.reason.rsplit("restarting in ", 1)[1].rstrip("s"))
                  for t in transitions if t.to_state == "backoff"]
        assert len(delays) == 3 and delays == sorted(delays) and delays[-1] > delays[0]
        await until(lambda: any("needs a human" in " ".join(line["lines"])
                                for line in alert_lines(settings)),
                    what="escalation line in .bot_alert")
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        assembled.close()


async def test_a_second_watcher_cannot_supervise_the_same_target(running: Running) -> None:
    """Two watchers never start two Remis: the second one is refused by the lock."""
    second = Watcher(running.watcher.settings, console=None, environ={})
    try:
        with pytest.raises(LockHeld):
            second.acquire_locks()
    finally:
        second.close()
    assert len(sims_in(running.watch.target.workdir)) == 1


async def test_restart_on_operator_request_and_stop_keeps_it_down(running: Running) -> None:
    """An operator restart replaces the process; an operator stop is not undone."""
    workdir = running.watch.target.workdir
    old = sims_in(workdir)[0].pid
    report = await asyncio.to_thread(running.watch.restart, "ana", "testing")
    assert report.ok and report.new_pid != old and report.requested_by == "ana"
    await asyncio.to_thread(running.watch.stop, "ana", "deploy")
    assert sims_in(workdir) == []
    await asyncio.sleep(1.5)
    assert sims_in(workdir) == []
    assert running.watch.supervisor.state is State.STOPPED


async def test_a_nameerror_in_scan_is_one_group_and_a_failed_scan_test(running: Running) -> None:
    """The incident's NameError: the scan test fails and the traceback is one error group."""
    workdir = running.watch.target.workdir
    control(workdir, do="scan_mode", mode="fail")
    await until((workdir / ".remi_sim_state.json").exists, what="scan mode saved")
    result = await asyncio.to_thread(running.watch.scan_test)
    assert result.outcome == "failed" and "NameError" in result.output
    assert result.fingerprint
    for _ in range(3):
        control(workdir, do="error")
        await asyncio.sleep(0.3)
    report = await asyncio.to_thread(running.watch.check)
    groups = running.watcher.store.error_groups("remi")
    name_errors = [g for g in groups if "NameError" in g.title]
    assert len(name_errors) == 1 and name_errors[0].count >= 3
    assert report.status != "healthy"


def _epoch() -> datetime:
    return SystemClock().now().replace(year=2000)


async def test_a_fix_landing_restarts_remi_and_runs_the_scan_test(tmp_path: Path) -> None:
    """Post-fix: when Remi's git HEAD moves, it is restarted and the scan test runs by itself."""
    workdir = tmp_path / "remi"
    git = workdir / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text("a" * 40 + "\n")
    running = await start_watcher(sim_settings(tmp_path))
    try:
        watch, store = running.watch, running.watcher.store
        before = sims_in(workdir)[0].pid
        (git / "refs" / "heads" / "main").write_text("b" * 40 + "\n")
        await asyncio.to_thread(watch.check)
        fix = await until(lambda: [r for r in store.restarts("remi", _epoch())
                                   if r.trigger == "post_fix"], what="post-fix restart")
        assert "aaaaaaaaaa → bbbbbbbbbb" in fix[0].reason
        assert fix[0].old_pid == before
        scan = await until(lambda: s if (s := store.last_scan("remi")) and s.commit == "b" * 10
                           else None,
                           timeout=15, what="scan test at the new commit")
        assert scan.ok
    finally:
        running.stop.set()
        await asyncio.wait_for(running.task, 15)
        running.watcher.close()
