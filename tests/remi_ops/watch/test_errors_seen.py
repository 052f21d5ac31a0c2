"""Errors seen in seconds, through a real watcher and a real bot logging the incident's
NameError: stored by the 2-s probe, alerted after the group wait (not at the next check,
which these targets only have every ten minutes), counted exactly across a SIGKILL."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from bubabot_local.errorkit import (
    alert_lines,
    error_bot_config,
    error_bot_settings,
    errors_sent,
    request_errors,
)

from remi_ops.clock import SystemClock
from remi_ops.config import Settings
from remi_ops.store.database import Store
from remi_ops.supervision.supervisor import State
from remi_ops.testing import wait_until, wait_until_async
from remi_ops.watch.watcher import STORE_NAME, Watcher

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("reap_sims")]


async def name_error_alert(settings: Settings) -> str:
    lines = await wait_until_async(
        lambda: [line for line in alert_lines(settings)
                 if "NameError" in json.dumps(line)], timeout=40,
        what="a NameError alert in .bot_alert")
    return json.dumps(lines[0])


@pytest.fixture
async def watcher(tmp_path: Path) -> AsyncIterator[tuple[Watcher, Settings]]:
    settings = error_bot_settings(tmp_path)
    assembled = Watcher(settings, console=None, environ={})
    assembled.acquire_locks()
    stop = asyncio.Event()
    task = asyncio.create_task(assembled.run(stop))
    watch = assembled.watch(None)
    await wait_until_async(lambda: watch.supervisor.state is State.RUNNING, what="running")
    yield assembled, settings
    stop.set()
    await asyncio.wait_for(task, 15)
    assembled.close()


@pytest.mark.parametrize("rate", [1, 1000])
async def test_an_appended_error_is_stored_and_alerted_before_the_next_check(
        watcher: tuple[Watcher, Settings], rate: int) -> None:
    assembled, settings = watcher
    workdir = settings.targets[0].workdir
    request_errors(workdir, rate, 3 * rate)
    groups = await wait_until_async(
        lambda: [g for g in assembled.store.error_groups("remi") if "NameError" in g.title],
        timeout=20, what="the NameError group stored")
    assert len(groups) == 1
    await name_error_alert(settings)
    sent = await wait_until_async(lambda: errors_sent(workdir), what="the bot done")
    await wait_until_async(
        lambda: sum(g.count for g in assembled.store.error_groups("remi")) == sent,
        timeout=20, what=f"all {sent} errors counted")


def store_of(settings: Settings) -> Store:
    return Store.open(settings.state_dir / STORE_NAME, SystemClock())


def counted(settings: Settings) -> int:
    with store_of(settings) as store:
        return sum(g.count for g in store.error_groups("remi"))


@contextmanager
def watcher_process(cfg: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``remi-ops watch`` in its own process (killed at the end if still running)."""
    proc = subprocess.Popen([sys.executable, "-m", "remi_ops.cli.main", "--config", str(cfg),
                             "watch"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)


def test_a_watcher_killed_between_a_probe_and_a_check_loses_and_repeats_nothing(
        tmp_path: Path) -> None:
    cfg = error_bot_config(tmp_path)
    settings = error_bot_settings(tmp_path)
    workdir = settings.targets[0].workdir
    with watcher_process(cfg) as first:
        # its first check is done (it writes .bot_health): what follows is the probes'
        wait_until((workdir / ".bot_health").exists, timeout=15, what="the first check")
        request_errors(workdir, 50, 20)
        wait_until(lambda: errors_sent(workdir), timeout=15, what="20 errors logged")
        wait_until(lambda: counted(settings) == 20, timeout=15, what="20 stored by a probe")
        first.send_signal(signal.SIGKILL)  # long before its next check (10 minutes)
        first.wait(10)
    request_errors(workdir, 50, 15)  # Remi carries on while no watcher runs
    wait_until(lambda: errors_sent(workdir) == 35, timeout=15, what="15 more logged")
    with watcher_process(cfg):
        wait_until(lambda: counted(settings) == 35, timeout=20, what="35 counted")
        request_errors(workdir, 50, 5)
        wait_until(lambda: errors_sent(workdir) == 40, timeout=15, what="5 more logged")
        wait_until(lambda: counted(settings) == 40, timeout=20, what="40 counted")
    assert counted(settings) == 40
