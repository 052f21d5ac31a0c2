"""``[alertmanager] listen`` in a whole Bubabot (``build_app``): the receiver answers while
the app runs, its groups reach #quick-tasks through the app's own outbox, and the port
is free again once the app closes; a token is required off loopback."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp
import pytest
from bubabot_local.emulator import DiscordEmulator, patch_discord_py, unpatch_discord_py
from bubabot_local.metricskit import free_port
from bubabot_local.mode import build_world
from bubabot_local.simkit import SIM, sims_in
from bubabot_local.stackkit import until

from bubabot.app import build_app
from remi_ops.config import Settings
from remi_ops.config_file import parse_settings
from remi_ops.exceptions import ConfigError
from remi_ops.host import reap_exited_children

pytestmark = pytest.mark.integration
DATA = Path(__file__).parents[1] / "data" / "alertmanager"
TOKEN = "app-level-token-91ab"


def settings_for(tmp_path: Path, discord: dict[str, object], listen: str) -> Settings:
    workdir = tmp_path / "remi"
    workdir.mkdir(exist_ok=True)
    return parse_settings({
        "watchdog": {"state_dir": str(tmp_path / "state")},
        "targets": [{"name": "remi", "workdir": str(workdir), "command": SIM,
                     "restart": {"stop_grace_s": 2}}],
        "discord": discord, "alertmanager": {"listen": listen}}, base_dir=tmp_path)


async def post(url: str, token: str) -> int:
    async with aiohttp.ClientSession() as http, http.post(
            url, data=(DATA / "firing.json").read_bytes(),
            headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status


async def test_the_app_receives_alertmanager_and_posts_the_group(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTMANAGER_WEBHOOK_TOKEN", TOKEN)
    listen = f"127.0.0.1:{free_port()}"
    emulator = DiscordEmulator()
    await emulator.start()
    patch_discord_py(emulator)
    world = build_world(emulator)
    settings = settings_for(tmp_path, world.discord_settings(), listen)
    app = build_app(settings, client_options={"guild_ready_timeout": 0.05})
    channel = settings.discord.alert_channel_id
    try:
        await app.start(world.bubabot_token)
        assert await post(f"http://{listen}/alertmanager", "wrong") == 401
        assert await post(f"http://{listen}/alertmanager", TOKEN) == 200
        message = await until(lambda: next(
            (m for m in emulator.messages(channel)
             if m.embeds and m.embeds[0]["title"] == "🔥 RemiLoopLag — 3 firing"), None),
            what="the group's message")
        assert "Runbook: remi" in str(message.components)
    finally:
        await app.close()
        for sim in sims_in(tmp_path / "remi"):
            os.kill(sim.pid, signal.SIGKILL)
        await asyncio.sleep(0.1)
        reap_exited_children()
        await emulator.stop()
        unpatch_discord_py()
    with pytest.raises(aiohttp.ClientConnectionError):  # closed with the app
        await post(f"http://{listen}/alertmanager", TOKEN)


def test_without_a_token_bubabot_refuses_to_listen_beyond_loopback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALERTMANAGER_WEBHOOK_TOKEN", raising=False)
    settings = settings_for(tmp_path, {}, "0.0.0.0:9809")
    with pytest.raises(ConfigError) as refused:
        build_app(settings)
    [line] = refused.value.problems
    assert line.startswith("alertmanager.listen: 0.0.0.0:9809 is reachable from other hosts")
    assert "ALERTMANAGER_WEBHOOK_TOKEN" in line
