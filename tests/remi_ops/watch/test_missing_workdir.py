"""A workdir that disappears under a running watcher, with real processes: the Remi
simulator, SIGKILL, a real ``Watcher`` and its SQLite store. The start that cannot work is
escalated once and held (no spawn attempts, no backoff growth), nothing creates the
workdir, and Remi starts by itself when the workdir is back, resolving the alert.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from bubabot_local.simkit import sim_config_file, sim_settings, sims_in

from remi_ops.cli.main import main
from remi_ops.config import Settings
from remi_ops.supervision.supervisor import State
from remi_ops.testing import wait_until_async as until
from remi_ops.watch.target import TargetWatch
from remi_ops.watch.watcher import Watcher

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("reap_sims")]
#: checks run while the workdir is missing: none of them may try to start Remi
HELD_CHECKS = 5


@pytest.fixture
async def watcher(tmp_path: Path) -> AsyncIterator[Watcher]:
    settings = sim_settings(tmp_path)
    assembled = Watcher(settings, console=None, environ={})
    assembled.acquire_locks()
    stop = asyncio.Event()
    task = asyncio.create_task(assembled.run(stop))
    watch = assembled.watch(None)
    await until(lambda: watch.supervisor.state is State.RUNNING
                and sims_in(settings.targets[0].workdir), what="remi running")
    yield assembled
    stop.set()
    await asyncio.wait_for(task, 15)
    assembled.close()


def notifications(watcher: Watcher) -> list[dict[str, Any]]:
    """Every notification the alert engine handed the outbox (one row per sink)."""
    rows = watcher.store.query("SELECT payload FROM outbox WHERE sink = 'file' ORDER BY id")
    return [json.loads(row["payload"]) for row in rows]


def about_workdir(watcher: Watcher, problem: str, kind: str) -> list[dict[str, Any]]:
    return [n for n in notifications(watcher)
            if n["type"] == kind and problem in json.dumps(n)]


def spawned_since(watch: TargetWatch, since: datetime) -> list[bool]:
    """Whether each (re)start since ``since`` worked, oldest first."""
    return [r.ok for r in sorted(watch.store.restarts(watch.name, since), key=lambda r: r.at)]


async def test_a_missing_workdir_is_escalated_once_held_and_resumed(watcher: Watcher,
                                                                    tmp_path: Path) -> None:
    watch = watcher.watch(None)
    settings: Settings = watch.settings
    workdir = settings.targets[0].workdir
    away = workdir.with_name("remi-away")
    problem = f"workdir does not exist: {workdir}"
    [old] = sims_in(workdir)
    since = watch.clock.now()
    workdir.rename(away)
    os.kill(old.pid, signal.SIGKILL)
    await until(lambda: watch.supervisor.workdir_missing, what="restarts held")
    for _ in range(HELD_CHECKS):
        report = await asyncio.to_thread(watch.check)
        await asyncio.to_thread(watch.tick)
    assert watch.seconds_until_due() is None  # nothing scheduled: held, not backing off
    assert watch.supervisor.backoff_level <= 1
    assert spawned_since(watch, since) == [False]  # the one that found it
    assert problem in [f.summary.removeprefix("process is not running: ")
                       for f in report.findings]
    assert not workdir.exists()  # neither .bot_health nor .bot_alert created it
    assert sims_in(away) == []
    await until(lambda: about_workdir(watcher, problem, "event"), what="the escalation")
    await until(lambda: about_workdir(watcher, problem, "firing"), what="the down alert")
    [escalation] = about_workdir(watcher, problem, "event")
    assert escalation["severity"] == "page"

    away.rename(workdir)
    await asyncio.to_thread(watch.check)
    await until(lambda: sims_in(workdir), timeout=20, what="Remi started by itself")
    await until(lambda: [n for n in notifications(watcher) if n["type"] == "resolved"
                         and "remi/down" in [a["key"] for a in n["alerts"]]],
                timeout=20, what="the down alert resolved")
    assert watch.supervisor.workdir_missing == ""
    assert len(about_workdir(watcher, problem, "event")) == 1  # said once, not per check
    assert spawned_since(watch, since) == [False, True]
    assert (workdir / ".bot_health").exists()  # written again once the workdir is back


def test_status_and_health_say_the_workdir_does_not_exist(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    """With no watcher running, both look from outside and name the missing path."""
    cfg = sim_config_file(tmp_path)
    workdir = tmp_path / "remi"
    workdir.rmdir()
    problem = f"workdir does not exist: {workdir}"
    assert main(["--config", str(cfg), "status"]) != 0
    assert problem in capsys.readouterr().out
    assert main(["--config", str(cfg), "health"]) != 0
    assert problem in capsys.readouterr().out
    assert not workdir.exists()
