"""End to end: a traceback written to one target's log reaches the store through that
target's probe, woken by the write (the safety poll is an hour here), not the other's."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest
from bubabot_local.simkit import kill_leftovers

from remi_ops.config_file import parse_settings
from remi_ops.testing import running, wait_until_async
from remi_ops.watch import fileevents
from remi_ops.watch.watcher import Watcher

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="file events come from inotify (Linux)")]
SLEEP = shutil.which("sleep") or "/bin/sleep"
TRACEBACK = """[2026-01-24 12:00:00] [ERROR   ] remi.scoring: Scoring failed
Traceback (most recent call last):
  File "/srv/remi/packages/core/pipeline.py", line 42, in score
    return cache[key]
KeyError: 'track:1'
[2026-01-24 12:00:01] [INFO    ] remi: next line
"""


async def test_a_log_write_wakes_its_targets_probe(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fileevents, "SAFETY_POLL_S", 3600.0)
    targets = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        targets.append({"name": name, "workdir": str(tmp_path / name),
                        "command": [SLEEP, "600"], "restart": {"stop_grace_s": 1}})
    settings = parse_settings({"watchdog": {"state_dir": str(tmp_path / "state"),
                                            "check_interval_s": 600,
                                            "heartbeat_stale_s": 1800},
                               "targets": targets}, base_dir=tmp_path)
    try:
        async with running(Watcher(settings, console=None, environ={})) as watcher:
            a = watcher.watch("a")
            await wait_until_async(lambda: all(w.last_report and w.recheck_due_mono is None
                                               for w in watcher.watches.values()),
                                   timeout=30, what="the checks after the start done")
            await asyncio.sleep(0.5)  # the first probes ran; now only a change wakes them
            assert all(w.watched for w in watcher.files.wakes)
            with a.target.stderr_log.open("a", encoding="utf-8") as fh:
                fh.write(TRACEBACK)
            await wait_until_async(lambda: watcher.store.error_groups("a"), timeout=20,
                                   what="the KeyError grouped by a's probe")
            assert watcher.store.error_groups("b") == []
    finally:
        kill_leftovers(tmp_path)
