"""Messages: edits, mentions, Discord's limits, threads, and the recorded requests."""

from __future__ import annotations

import discord
import pytest
from bubabot_local.emulator import DiscordEmulator
from bubabot_local.emulatorkit import BOT_ID, OPS_ROLE, QUICK_TASKS, TOKEN, EmulatedBot, slash

pytestmark = [pytest.mark.integration, pytest.mark.timeout(15)]


async def test_send_then_edit_is_one_message_with_history(
    emulator: DiscordEmulator, bot: EmulatedBot
) -> None:
    """channel.send + message.edit: one message, current content, one revision."""
    channel = bot.get_channel(QUICK_TASKS)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("FIRING: Remi down", embed=discord.Embed(title="Incident"))
    await sent.edit(content="RESOLVED: Remi up")
    [message] = emulator.messages(QUICK_TASKS)
    assert message.id == sent.id and message.content == "RESOLVED: Remi up"
    assert message.embeds[0]["title"] == "Incident"
    assert message.edit_count == 1 and message.revisions[0].content == "FIRING: Remi down"
    assert message.author.id == BOT_ID


async def test_role_mention_honours_allowed_mentions(
    emulator: DiscordEmulator, bot: EmulatedBot
) -> None:
    """Only an allowed role mention pings."""
    channel = bot.get_channel(QUICK_TASKS)
    assert isinstance(channel, discord.TextChannel)
    quiet = await channel.send(
        f"<@&{OPS_ROLE}> fyi", allowed_mentions=discord.AllowedMentions.none()
    )
    loud = await channel.send(
        f"<@&{OPS_ROLE}> page", allowed_mentions=discord.AllowedMentions(roles=True)
    )
    assert emulator.message(quiet.id).mention_role_ids == []
    assert emulator.message(loud.id).mention_role_ids == [OPS_ROLE]


async def test_discord_limits_are_enforced(emulator: DiscordEmulator, bot: EmulatedBot) -> None:
    """An embed over Discord's limits is a 400 (code 50035), as on Discord."""
    channel = bot.get_channel(QUICK_TASKS)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as raised:
        await channel.send(embed=discord.Embed(description="x" * 4097))
    assert raised.value.status == 400 and raised.value.code == 50035
    assert emulator.messages(QUICK_TASKS) == []


async def test_thread_from_message(emulator: DiscordEmulator, bot: EmulatedBot) -> None:
    """A thread started on an alert is a type 11 channel that takes messages."""
    channel = bot.get_channel(QUICK_TASKS)
    assert isinstance(channel, discord.TextChannel)
    alert = await channel.send("FIRING")
    thread = await alert.create_thread(name="incident 1")
    await thread.send("evidence attached")
    assert thread.id == alert.id and thread.parent_id == QUICK_TASKS
    assert [m.content for m in emulator.messages(thread.id)] == ["evidence attached"]


async def test_requests_are_recorded_without_the_token(
    emulator: DiscordEmulator, synced_bot: EmulatedBot
) -> None:
    """Tests grep raw bodies for leaked secrets; Authorization is never recorded."""
    await slash(emulator, "report")
    assert emulator.requests
    for request in emulator.requests:
        assert TOKEN.encode() not in request.body
        assert request.header("Authorization") is None
    assert emulator.unhandled_requests == []
