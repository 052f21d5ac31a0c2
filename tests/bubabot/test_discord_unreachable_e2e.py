"""Discord unreachable never leaves Remi unsupervised.

Bubabot starts while nothing listens where Discord should be: it supervises the Remi
simulator all the same (a kill is healed), says so in one log line, and once the emulator
comes up on that address it logs in and delivers the restart report it had queued. A
later outage reads the same way: one line when it starts, one when it ends.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from bubabot_local.emulator import DiscordEmulator, patch_discord_py, unpatch_discord_py
from bubabot_local.mode import QUICK_TASKS, build_world
from bubabot_local.stackkit import until

from bubabot.app import build_app
from bubabot.link import DiscordLink
from remi_ops.config_file import parse_settings
from remi_ops.host import reap_exited_children
from remi_ops.supervision.supervisor import State

pytestmark = pytest.mark.integration
SIM = [sys.executable, "-m", "bubabot_local.remi_sim", "run", "--heartbeat-interval-s", "0.05"]



def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_bubabot_supervises_remi_while_discord_is_unreachable_then_delivers(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    port = free_port()
    emulator = DiscordEmulator(port=port)
    world = build_world(emulator)
    patch_discord_py((f"http://127.0.0.1:{port}/api/v10", f"ws://127.0.0.1:{port}/gateway/"))
    workdir = tmp_path / "remi"
    workdir.mkdir()
    settings = parse_settings({
        "watchdog": {"check_interval_s": 60, "state_dir": str(tmp_path / "state")},
        "targets": [{"name": "remi", "workdir": str(workdir), "command": SIM,
                     "env": {"REMI_BEACON_INTERVAL_S": "0.2"},
                     "restart": {"stop_grace_s": 2, "start_seconds": 0.5}}],
        "alerts": {"group_wait_s": 0, "group_interval_s": 0, "keep_firing_for_s": 0,
                   "retry_initial_s": 0.2, "retry_max_s": 0.5},
        "discord": world.discord_settings(),
    }, base_dir=tmp_path)
    app = build_app(settings, client_options={"guild_ready_timeout": 0.05})
    app.link = DiscordLink(app.bot, retry_initial_s=0.2, retry_max_s=0.5)
    supervisor = app.watcher.watch(None).supervisor
    try:
        await asyncio.wait_for(app.start(world.bubabot_token), timeout=20)
        # what start-up made (discord.py, the watcher) is out of full collections' way
        assert gc.get_freeze_count() > 10_000
        await until(lambda: supervisor.state is State.RUNNING, what="remi started")
        old = supervisor.process.pid if supervisor.process else 0
        os.kill(old, signal.SIGKILL)
        await until(lambda: supervisor.process and supervisor.process.pid != old
                    and supervisor.state is State.RUNNING, what="remi healed without Discord")
        await asyncio.sleep(1.0)  # several login retries
        lines = [r.getMessage() for r in caplog.records if "Discord unreachable" in
                 r.getMessage()]
        assert len(lines) == 1, lines  # one line per change of state, not one per try
        assert lines[0].startswith("Discord unreachable (connection refused); retrying in")
        assert not [r for r in caplog.records if r.exc_info], "no traceback in the log"

        await emulator.start()
        await until(lambda: emulator.is_connected(bot_token=world.bubabot_token), timeout=20,
                    what="bubabot connected once Discord is up")
        await until(lambda: any(f"pid {old} →" in json.dumps(m.embeds, ensure_ascii=False)
                                for m in emulator.messages(QUICK_TASKS)), timeout=20,
                    what="the queued restart report delivered")
        assert any("Discord reachable again" in r.getMessage() for r in caplog.records)

        # later: an outage while connected is one line too, and no traceback
        caplog.clear()
        await emulator.outage()
        await until(lambda: any("Discord unreachable" in r.getMessage()
                                for r in caplog.records), what="the outage noticed")
        await asyncio.sleep(3.0)  # discord.py retries meanwhile
        await emulator.end_outage()
        await until(lambda: any("Discord reachable again" in r.getMessage()
                                for r in caplog.records), timeout=30, what="back after it")
        lines = [r.getMessage() for r in caplog.records if "Discord unreachable" in
                 r.getMessage()]
        assert len(lines) == 1, lines
        assert not [r for r in caplog.records if r.exc_info], "no traceback in the log"
    finally:
        await app.close()
        process = supervisor.process
        if process is not None:
            os.kill(process.pid, signal.SIGKILL)
        await asyncio.sleep(0.1)
        reap_exited_children()
        await emulator.stop()
        unpatch_discord_py()
    assert gc.get_freeze_count() == 0  # a closed app gives them back to the collector
