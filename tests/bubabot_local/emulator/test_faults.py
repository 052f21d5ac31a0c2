"""Bad days on demand: rate limits, server errors, outages, reconnects, closes, intents."""

from __future__ import annotations

import aiohttp
import discord
import pytest
from bubabot_local.emulator import DiscordEmulator
from bubabot_local.emulatorkit import (
    BOT_ID,
    GUILD,
    QUICK_TASKS,
    REMI_ID,
    REMI_TOKEN,
    TOKEN,
    EmulatedBot,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(15)]


async def test_rate_limit_burst_is_retried_and_posts_once(
    emulator: DiscordEmulator, bot: EmulatedBot
) -> None:
    """429 with Via + retry_after: discord.py sleeps and retries; one message results."""
    emulator.fail_next(
        2, status=429, retry_after=0.05, route_prefix=f"/channels/{QUICK_TASKS}/messages"
    )
    channel = bot.get_channel(QUICK_TASKS)
    assert isinstance(channel, discord.TextChannel)
    await channel.send("after the burst")
    assert [m.content for m in emulator.messages(QUICK_TASKS)] == ["after the burst"]
    posts = emulator.find_requests("POST", f"/channels/{QUICK_TASKS}/messages")
    assert [r.status for r in posts] == [429, 429, 200]


async def test_server_error_is_retried(emulator: DiscordEmulator, bot: EmulatedBot) -> None:
    """A 502 is retried by discord.py (after ~1 s)."""
    emulator.fail_next(1, status=502, route_prefix="/channels/")
    channel = bot.get_channel(QUICK_TASKS)
    assert isinstance(channel, discord.TextChannel)
    await channel.send("eventually")
    assert [r.status for r in emulator.find_requests("POST", "/messages")] == [502, 200]


async def test_outage_then_resume(emulator: DiscordEmulator, bot: EmulatedBot) -> None:
    """Sockets drop and REST refuses; afterwards the client RESUMEs and can post again."""
    channel = bot.get_channel(QUICK_TASKS)
    assert isinstance(channel, discord.TextChannel)
    await emulator.outage()
    await emulator.wait_for(
        lambda: emulator.refused_gateway_connects >= 1, what="a refused reconnect"
    )
    with pytest.raises(discord.DiscordServerError):
        await channel.send("during the outage")
    await emulator.end_outage()
    await emulator.wait_for(emulator.is_connected, timeout=5, what="the client to reconnect")
    assert emulator.bot().resume_count == 1 and emulator.bot().identify_count == 1
    await channel.send("back")
    assert [m.content for m in emulator.messages(QUICK_TASKS)] == ["back"]


async def test_reconnect_opcode_resumes(emulator: DiscordEmulator, bot: EmulatedBot) -> None:
    """Op 7: the client closes and RESUMEs on resume_gateway_url."""
    await emulator.send_reconnect()
    await emulator.wait_for(lambda: emulator.bot().resume_count == 1, what="RESUME")
    assert emulator.is_connected()


async def test_invalid_session_reidentifies(emulator: DiscordEmulator, bot: EmulatedBot) -> None:
    """Op 9 false: a fresh IDENTIFY (the bot skips the 5 s hook sleep)."""
    await emulator.invalidate_session(False)
    await emulator.wait_for(lambda: emulator.bot().identify_count == 2, what="a new IDENTIFY")
    await emulator.wait_for(emulator.is_connected, what="the new session")
    assert emulator.bot().resume_count == 0


async def test_server_side_close_resumes(emulator: DiscordEmulator, bot: EmulatedBot) -> None:
    """A socket closed with 4000 (any non-fatal code) is RESUMEd at once."""
    await emulator.disconnect(4000)
    await emulator.wait_for(lambda: emulator.bot().resume_count == 1, what="RESUME")
    assert emulator.is_connected()


async def test_privileged_intents_refused(emulator: DiscordEmulator) -> None:
    """A bot without privileged intents enabled is closed with 4014."""
    emulator.add_bot(REMI_TOKEN, REMI_ID, "Remi", privileged_intents_enabled=False)
    client = discord.Client(intents=discord.Intents.all())
    await client.login(REMI_TOKEN)
    with pytest.raises(discord.PrivilegedIntentsRequired):
        await client.connect()
    await client.close()


async def test_silent_socket_is_dropped_when_heartbeats_are_enforced() -> None:
    """Like Discord with a blocked bot: no heartbeat → close 4009, and the session is gone."""
    emu = DiscordEmulator(heartbeat_interval_ms=100, enforce_heartbeats=True)
    await emu.start()
    emu.add_guild(GUILD)
    emu.add_bot(TOKEN, BOT_ID, "Bubabot")
    identify = {"op": 2, "d": {"token": TOKEN, "intents": 0, "properties": {}}}
    try:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(emu.gateway_url) as ws:
                await ws.receive_json()  # HELLO
                await ws.send_json(identify)
                ready = await ws.receive_json()
                while (await ws.receive(timeout=2)).type is aiohttp.WSMsgType.TEXT:
                    pass  # GUILD_CREATE, then silence until the close
                assert ws.close_code == 4009
            resume = {"token": TOKEN, "session_id": ready["d"]["session_id"], "seq": 2}
            async with session.ws_connect(emu.gateway_url) as ws:
                await ws.receive_json()  # HELLO
                await ws.send_json({"op": 6, "d": resume})
                invalid = await ws.receive_json()
                assert (invalid["op"], invalid["d"]) == (9, False)
    finally:
        await emu.stop()
