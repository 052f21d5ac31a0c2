"""The watcher's own log: routine checks of a healthy Remi stay under one INFO line each,
and every line about a target carries it as a field (``record.target``), not inside the
sentence, for a JSON formatter to show as ``"target": "remi"``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bubabot_local.simkit import sim_settings

from remi_ops.supervision.supervisor import State
from remi_ops.testing import wait_until_async
from remi_ops.watch.watcher import Watcher

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("reap_sims")]
CHECKS = 12


@pytest.fixture
async def watcher(tmp_path: Path) -> AsyncIterator[Watcher]:
    settings = sim_settings(tmp_path, watchdog={"check_interval_s": 0.2,
                                                "state_dir": str(tmp_path / "state")})
    assembled = Watcher(settings, console=None, environ={})
    assembled.acquire_locks()
    stop = asyncio.Event()
    task = asyncio.create_task(assembled.run(stop))
    await wait_until_async(lambda: assembled.watch(None).supervisor.state is State.RUNNING,
                           timeout=30, what="remi running")
    yield assembled
    stop.set()
    await asyncio.wait_for(task, 15)
    assembled.close()


def _checks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if r.name == "remi_ops.watch.target" and r.getMessage().startswith("check (")]


async def test_quiet_checks_log_at_most_one_info_line_each(
        watcher: Watcher, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    watch = watcher.watch(None)
    await wait_until_async(lambda: watch.last_scan is not None, timeout=30,
                           what="the scan test after the start")
    await wait_until_async(lambda: len(_checks(caplog)) >= 2, what="two checks")
    caplog.clear()  # from here on, a quiet hour in miniature
    await wait_until_async(lambda: len(_checks(caplog)) >= CHECKS, timeout=30,
                           what=f"{CHECKS} checks")
    checks = len(_checks(caplog))
    loud = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.INFO]
    assert len(loud) <= checks, loud
    assert all(r.target == "remi" for r in _checks(caplog))  # type: ignore[attr-defined]


async def test_lines_about_a_target_carry_it_as_a_field(
        watcher: Watcher, caplog: pytest.LogCaptureFixture) -> None:
    """Stop and start log "stopped" and "started pid …": each with ``target``, and the
    sentence no longer begins with the name."""
    caplog.set_level(logging.INFO, "remi_ops")
    watch = watcher.watch(None)
    await asyncio.to_thread(watch.stop, "ops", "test")
    await asyncio.to_thread(watch.start, "ops")
    about = [r for r in caplog.records if r.name.startswith(("remi_ops.watch",
                                                             "remi_ops.host"))]
    messages = {r.getMessage().split(" ", 1)[0]: r for r in about}
    assert {"stopped", "started"} <= set(messages)
    for record in about:
        assert record.target == "remi"  # type: ignore[attr-defined]
        assert not record.getMessage().startswith("remi:")
