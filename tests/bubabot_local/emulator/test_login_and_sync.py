"""Logging in (REST and gateway) and syncing commands, as discord.py does it."""

from __future__ import annotations

import aiohttp
import discord
import pytest
from bubabot_local.emulator import DiscordEmulator, EmulatorError
from bubabot_local.emulatorkit import BOT_ID, GUILD, OPS_ROLE, PERSON, QUICK_TASKS, EmulatedBot

pytestmark = [pytest.mark.integration, pytest.mark.timeout(15)]


async def test_client_logs_in_and_sees_the_guild(
    emulator: DiscordEmulator, bot: EmulatedBot
) -> None:
    """READY + GUILD_CREATE give the client its user, guild, channel, roles and members."""
    assert bot.user is not None and bot.user.id == BOT_ID
    guild = bot.get_guild(GUILD)
    assert guild is not None and guild.get_channel(QUICK_TASKS) is not None
    assert guild.get_role(OPS_ROLE) is not None
    member = await guild.fetch_member(PERSON)  # not cached: no members intent by default
    assert [r.id for r in member.roles] == [GUILD, OPS_ROLE]  # @everyone first
    assert guild.me is not None
    assert emulator.bot().identify_count == 1


async def test_sync_assigns_stable_ids_and_counts_each_put(
    emulator: DiscordEmulator, bot: EmulatedBot
) -> None:
    """A second sync with the same commands is visible in the counter and keeps the ids."""
    first = await bot.tree.sync(guild=discord.Object(GUILD))
    second = await bot.tree.sync(guild=discord.Object(GUILD))
    assert emulator.sync_count(BOT_ID, GUILD) == 2
    assert sorted(c.name for c in first) == [
        "alerts",
        "errors",
        "health",
        "report",
        "restart",
        "secret",
        "slow",
    ]
    assert {c.name: c.id for c in first} == {c.name: c.id for c in second}
    fetched = await bot.tree.fetch_commands(guild=discord.Object(GUILD))
    assert {c.id for c in fetched} == {c.id for c in first}
    assert all(c["guild_id"] == str(GUILD) for c in emulator.synced_commands(BOT_ID, GUILD))


async def test_unsynced_command_is_a_clear_error(
    emulator: DiscordEmulator, bot: EmulatedBot
) -> None:
    """Invoking before sync raises instead of dispatching an unknown command."""
    with pytest.raises(EmulatorError, match="not synced"):
        await emulator.invoke_slash(
            guild_id=GUILD, channel_id=QUICK_TASKS, user_id=PERSON, name="health"
        )


async def test_bad_token_is_a_login_failure(emulator: DiscordEmulator) -> None:
    """GET /users/@me answers 401 for an unknown token, which discord.py turns into LoginFailure."""
    client = discord.Client(intents=discord.Intents.default())
    with pytest.raises(discord.LoginFailure):
        await client.login("not-a-token")
    await client.close()


async def test_gateway_closes_4004_on_a_bad_identify(emulator: DiscordEmulator) -> None:
    """IDENTIFY is checked against the bot tokens."""
    async with aiohttp.ClientSession() as session, session.ws_connect(emulator.gateway_url) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] == 41250
        await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 0, "properties": {}}})
        closing = await ws.receive()
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4004
