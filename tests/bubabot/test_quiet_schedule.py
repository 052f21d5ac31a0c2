"""Bubabot's scheduled checks of a healthy Remi stay under one INFO line each: the
scheduler's own "Running job" / "executed successfully" lines are not routine news."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from bubabot_local.simkit import sim_settings

from bubabot.app import build_app
from remi_ops.supervision.supervisor import State
from remi_ops.testing import wait_until_async

pytestmark = pytest.mark.integration
CHECKS = 8


def _checks(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records
               if r.name == "remi_ops.watch.target" and r.getMessage().startswith("check ("))


async def test_scheduled_quiet_checks_log_at_most_one_info_line_each(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = sim_settings(tmp_path, watchdog={"check_interval_s": 0.2,
                                                "state_dir": str(tmp_path / "state")})
    app = build_app(settings)
    app.watcher.acquire_locks()
    try:
        await app.watcher.start()  # what App.start does, without logging in to Discord
        app.tasks += [asyncio.create_task(job)
                      for job in app.watcher.background(app.stopping, with_checks=False)]
        watch = app.watcher.watch(None)
        await wait_until_async(lambda: watch.supervisor.state is State.RUNNING, what="running")
        caplog.set_level(logging.DEBUG)
        app.schedule()
        await wait_until_async(lambda: _checks(caplog) >= 1, what="a first check")
        caplog.clear()
        await wait_until_async(lambda: _checks(caplog) >= CHECKS, timeout=30,
                               what=f"{CHECKS} checks")
        checks = _checks(caplog)
        loud = [f"{r.name}: {r.getMessage()}" for r in caplog.records
                if r.levelno >= logging.INFO]
        assert len(loud) <= checks, loud
    finally:
        app.stopping.set()
        await asyncio.gather(*app.tasks, return_exceptions=True)
        if app.scheduler.running:
            app.scheduler.shutdown(wait=False)
        await asyncio.to_thread(app.watcher.watch(None).stop, "test", "done")
        await app.bot.close()
        app.watcher.close()
