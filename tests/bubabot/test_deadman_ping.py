"""Bubabot's embedded watcher pings the dead-man URL too: ``/start`` when it starts, then the
ok ping after its APScheduler-driven checks (Discord need not be reachable for it)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from bubabot_local.emulator import patch_discord_py, unpatch_discord_py

from bubabot.app import build_app
from remi_ops.config_file import parse_settings
from remi_ops.host import reap_exited_children
from remi_ops.testing import wait_until_async as until
from tests.remi_ops.watch.pingkit import ping_server, refused_url

pytestmark = pytest.mark.integration
SIM = [sys.executable, "-m", "bubabot_local.remi_sim", "run"]


async def test_bubabot_pings_start_then_ok_after_its_scheduled_checks(tmp_path: Path) -> None:
    nowhere = refused_url().rsplit("/", 1)[0]  # Discord is down: supervision goes on
    patch_discord_py((f"{nowhere}/api/v10", nowhere.replace("http", "ws") + "/gateway/"))
    workdir = tmp_path / "remi"
    workdir.mkdir()
    async with ping_server() as server:
        settings = parse_settings({
            "watchdog": {"check_interval_s": 0.5, "heartbeat_stale_s": 2,
                         "state_dir": str(tmp_path / "state"), "heartbeat_url": server.url},
            "targets": [{"name": "remi", "workdir": str(workdir), "command": SIM,
                         "env": {"REMI_BEACON_INTERVAL_S": "0.2"},
                         "restart": {"stop_grace_s": 2, "start_seconds": 0.5}}],
        }, base_dir=tmp_path)
        app = build_app(settings, client_options={"guild_ready_timeout": 0.05})
        supervisor = app.watcher.watch(None).supervisor
        token = server.url.rsplit("/", 1)[1]
        try:
            await asyncio.wait_for(app.start("test-token-not-used"), timeout=20)
            await until(lambda: server.paths().count(f"/{token}") >= 2, timeout=30,
                        what="ok pings after Bubabot's scheduled checks")
            assert server.paths()[0] == f"/{token}/start"
            assert server.hits[-1].body == "remi: healthy"
        finally:
            await app.close()
            process = supervisor.process
            if process is not None:
                os.kill(process.pid, signal.SIGKILL)
            await asyncio.sleep(0.1)
            reap_exited_children()
            unpatch_discord_py()
