"""The scan test after a restart tests the process that restart started. Killed before
its test was due (a crash right after a manual restart), there is nothing to test: no
"passed" is reported beside a Remi in backoff, and the next start runs its own test.
Real processes, a real watcher and a real scan-test command."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bubabot_local.simkit import kill_leftovers

from remi_ops import host
from remi_ops.config_file import parse_settings
from remi_ops.supervision.states import State
from remi_ops.testing import running, wait_until_async
from remi_ops.watch.watcher import Watcher

pytestmark = pytest.mark.integration

SLEEP = shutil.which("sleep") or "/bin/sleep"
#: generous bounds: they only stop a broken test
UP_S = 30.0


def scans_run(marker: Path) -> int:
    return len(marker.read_text().splitlines()) if marker.exists() else 0


async def test_a_process_killed_before_its_test_is_not_reported_as_passing(
        tmp_path: Path) -> None:
    workdir, marker = tmp_path / "remi", tmp_path / "scans"
    workdir.mkdir()
    scan = [sys.executable, "-c",
            f"open({str(marker)!r}, 'a').write('ran\\n'); print('scan ok')"]
    settings = parse_settings({
        "watchdog": {"state_dir": str(tmp_path / "state"), "check_interval_s": 60},
        "targets": [{"name": "remi", "workdir": str(workdir), "command": [SLEEP, "600"],
                     "restart": {"jitter": 0, "start_seconds": 1, "backoff_initial_s": 60,
                                 "stop_grace_s": 1},
                     "scan_test": {"command": scan, "after_restart": True}}]},
        base_dir=tmp_path)
    watcher = Watcher(settings, console=None, environ={})
    try:
        async with running(watcher):
            watch = watcher.watch("remi")
            await wait_until_async(lambda: scans_run(marker) == 1, UP_S,
                                   "the test after the first start")
            await asyncio.to_thread(watch.restart, "ana", "by hand")
            started = watch.supervisor.process
            assert started is not None
            os.kill(started.pid, signal.SIGKILL)  # right after the restart
            await wait_until_async(lambda: watch.supervisor.state is State.BACKOFF, UP_S,
                                   "the death noticed, a restart 60 s away")
            await asyncio.sleep(3.5)  # the test would have been due 2 s after the restart
            assert scans_run(marker) == 1
            assert watch.scan_due_mono is None
            assert len(watcher.store.scans("remi", datetime(2000, 1, 1, tzinfo=UTC))) == 1
            # the next start runs its own
            await asyncio.to_thread(watch.start, "ana")
            await wait_until_async(lambda: scans_run(marker) == 2, UP_S,
                                   "the test after the next start")
            now = watch.supervisor.process
            assert now is not None and host.is_alive(now)
    finally:
        kill_leftovers(tmp_path)
