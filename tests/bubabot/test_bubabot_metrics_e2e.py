"""Bubabot serves the same ``/metrics`` as ``remi-ops watch`` (it embeds the same watcher),
plus its own event-loop lag; the port is free again once it closes."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from bubabot_local.emulator import DiscordEmulator, patch_discord_py, unpatch_discord_py
from bubabot_local.metricskit import Scrape, free_port, scrape
from bubabot_local.mode import build_world
from bubabot_local.simkit import SIM, sims_in
from bubabot_local.stackkit import until

from bubabot.app import build_app
from remi_ops.config_file import parse_settings
from remi_ops.host import reap_exited_children
from remi_ops.supervision.supervisor import State

pytestmark = pytest.mark.integration
SCRAPE_TIMEOUT_S = 30


async def scraped_when(listen: str, ok: Callable[[Scrape], bool]) -> Scrape:
    """Scrape (off the loop: Bubabot serves from this process) until ``ok`` holds."""
    deadline = time.monotonic() + SCRAPE_TIMEOUT_S
    while True:
        seen = await asyncio.to_thread(scrape, listen)
        if ok(seen):
            return seen
        assert time.monotonic() < deadline, f"not seen in {SCRAPE_TIMEOUT_S}s: {seen.text}"
        await asyncio.sleep(0.2)


async def test_bubabot_adds_its_loop_lag_to_the_watchers_metrics(tmp_path: Path) -> None:
    """Remi's metrics and Bubabot's loop lag in one scrape, parsed by prometheus_client."""
    listen = f"127.0.0.1:{free_port()}"
    emulator = DiscordEmulator()
    await emulator.start()
    patch_discord_py(emulator)
    world = build_world(emulator)
    workdir = tmp_path / "remi"
    workdir.mkdir()
    settings = parse_settings({
        "watchdog": {"state_dir": str(tmp_path / "state")},
        "targets": [{"name": "remi", "workdir": str(workdir), "command": SIM,
                     "restart": {"stop_grace_s": 2}}],
        "discord": world.discord_settings(),
        "metrics": {"listen": listen},
    }, base_dir=tmp_path)
    app = build_app(settings, client_options={"guild_ready_timeout": 0.05})
    try:
        await app.start(world.bubabot_token)
        await until(lambda: app.watcher.watch(None).supervisor.state is State.RUNNING,
                    what="remi running")

        seen = await scraped_when(listen, lambda s: s.value(
            "remi_ops_target_up", target="remi") == 1 and app.lag.samples > 0)
        assert seen.types["bubabot_loop_lag_seconds"] == "gauge"
        lag = seen.value("bubabot_loop_lag_seconds")
        worst = seen.value("bubabot_loop_lag_max_seconds")
        assert lag is not None and worst is not None and 0 <= lag <= worst
        assert seen.value("remi_ops_outbox_depth", sink="discord") is not None
    finally:
        await app.close()
        for sim in sims_in(workdir):
            os.kill(sim.pid, signal.SIGKILL)
        await asyncio.sleep(0.1)
        reap_exited_children()
        await emulator.stop()
        unpatch_discord_py()
    with pytest.raises(OSError):  # closed with the app
        await asyncio.to_thread(scrape, listen, 2.0)
