"""People drive bots: slash commands, options, deferrals, autocomplete, buttons, answers."""

from __future__ import annotations

import aiohttp
import discord
import pytest
from bubabot_local.emulator import DiscordEmulator, EmulatorError, EmulatorTimeout
from bubabot_local.emulatorkit import (
    BINARY,
    BOT_ID,
    GUILD,
    OPS_ROLE,
    PERSON,
    QUICK_TASKS,
    REMI_ID,
    REMI_TOKEN,
    AckView,
    EmulatedBot,
    connect,
    slash,
)
from discord import app_commands

pytestmark = [pytest.mark.integration, pytest.mark.timeout(15)]


async def test_slash_command_answered_immediately(
    emulator: DiscordEmulator, synced_bot: EmulatedBot
) -> None:
    """Options reach the command; the response is recorded with its latency."""
    interaction = await slash(emulator, "health", target="remi", verbose="yes")
    assert interaction.callback_type == 4 and not interaction.ephemeral
    assert interaction.original is not None
    assert interaction.original.content == "remi is healthy (verbose), asked by jordan"
    assert interaction.latency is not None and 0 < interaction.latency < 3
    assert [m.content for m in emulator.messages(QUICK_TASKS)] == [interaction.original.content]


async def test_subcommand_with_role_and_member_options(
    emulator: DiscordEmulator, synced_bot: EmulatedBot
) -> None:
    """ "group sub" names a subcommand; role/member options arrive resolved."""
    interaction = await slash(
        emulator, "alerts silence", minutes="30", notify=OPS_ROLE, who=PERSON
    )
    assert interaction.original is not None
    assert interaction.original.content == "silenced 30m, notify ops, for jordan"


async def test_missing_required_option_is_rejected(
    emulator: DiscordEmulator, synced_bot: EmulatedBot
) -> None:
    """Discord would not let a person omit a required option or exceed a range; nor does this."""
    with pytest.raises(EmulatorError, match="required"):
        await emulator.invoke_slash(
            guild_id=GUILD, channel_id=QUICK_TASKS, user_id=PERSON, name="health"
        )
    with pytest.raises(EmulatorError, match="outside"):
        await emulator.invoke_slash(
            guild_id=GUILD,
            channel_id=QUICK_TASKS,
            user_id=PERSON,
            name="alerts silence",
            options={"minutes": 500, "notify": OPS_ROLE},
        )


async def test_deferred_followup_with_embed_and_files(
    emulator: DiscordEmulator, synced_bot: EmulatedBot
) -> None:
    """The first follow-up fills the thinking placeholder; files are stored byte for byte."""
    interaction = await slash(emulator, "report")
    assert interaction.callback_type == 5
    [message] = interaction.followups
    assert message is interaction.original and not message.loading and message.edit_count == 0
    assert message.embeds[0]["title"] == "Error report"
    excerpt, blob = message.attachments
    assert (excerpt.filename, excerpt.text, excerpt.content_type) == (
        "excerpt.txt",
        "NameError: asyncio\n",
        "text/plain",
    )
    assert blob.data == BINARY
    await emulator.wait_for(lambda: bool(synced_bot.downloaded), what="the CDN download")
    assert synced_bot.downloaded == [b"NameError: asyncio\n"]


async def test_deferred_then_edit_original(
    emulator: DiscordEmulator, synced_bot: EmulatedBot
) -> None:
    """defer() + edit_original_response() completes the interaction."""
    interaction = await slash(emulator, "restart")
    assert interaction.original_edits == 1
    assert interaction.original is not None and interaction.original.content == "Remi restarted"


async def test_ephemeral_flag_recorded_and_hidden_from_channel(
    emulator: DiscordEmulator, synced_bot: EmulatedBot
) -> None:
    """Ephemeral answers are recorded but not part of what the channel shows."""
    interaction = await slash(emulator, "secret")
    assert interaction.ephemeral
    assert emulator.messages(QUICK_TASKS) == []
    [hidden] = emulator.messages(QUICK_TASKS, include_ephemeral=True)
    assert hidden.flags & 64 and hidden.content == "only you can see this"


async def test_autocomplete_choices(emulator: DiscordEmulator, synced_bot: EmulatedBot) -> None:
    """Type 4 interactions get a type 8 callback with the choices."""
    interaction = await emulator.autocomplete(
        guild_id=GUILD,
        channel_id=QUICK_TASKS,
        user_id=PERSON,
        name="errors",
        focused="group",
        options={"group": "err"},
    )
    await emulator.wait_for_response(interaction)
    assert interaction.callback_type == 8
    assert [c["value"] for c in interaction.choices] == ["NameError", "TimeoutError", "KeyError"]


async def test_persistent_button_from_before_a_restart(
    emulator: DiscordEmulator, bot: EmulatedBot
) -> None:
    """A button on a message posted by an earlier run reaches the persistent view (type 7)."""
    alert = emulator.add_message(
        QUICK_TASKS, BOT_ID, "FIRING: Remi unresponsive", components=AckView().to_components()
    )
    interaction = await emulator.click_button(
        user_id=PERSON, message_id=alert.id, custom_id="bubabot:ack"
    )
    await emulator.wait_for_response(interaction)
    assert interaction.callback_type == 7
    [message] = emulator.messages(QUICK_TASKS)
    assert message.content == "Acknowledged by jordan" and message.components == []
    assert message.edit_count == 1 and message.revisions[0].content == "FIRING: Remi unresponsive"


async def test_button_on_a_message_the_bot_sent(
    emulator: DiscordEmulator, bot: EmulatedBot
) -> None:
    """channel.send(view=...) binds the view to the returned id; a missing button is an error."""
    channel = bot.get_channel(QUICK_TASKS)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("FIRING", view=AckView())
    with pytest.raises(EmulatorError, match="no component"):
        await emulator.click_button(user_id=PERSON, message_id=sent.id, custom_id="bubabot:nope")
    interaction = await emulator.click_button(
        user_id=PERSON, message_id=sent.id, custom_id="bubabot:ack"
    )
    await emulator.wait_for_response(interaction)
    assert emulator.message(sent.id).content == "Acknowledged by jordan"


async def test_late_answer_is_unknown_interaction(
    emulator: DiscordEmulator, synced_bot: EmulatedBot
) -> None:
    """With Discord's ack deadline on, a callback after it fails with 10062."""
    emulator.ack_deadline_s = 0.1
    interaction = await emulator.invoke_slash(
        guild_id=GUILD, channel_id=QUICK_TASKS, user_id=PERSON, name="slow"
    )
    await emulator.wait_for(lambda: bool(synced_bot.late_errors), what="the late answer")
    assert synced_bot.late_errors == [10062]
    assert not interaction.responded and emulator.messages(QUICK_TASKS) == []


async def test_a_second_answer_is_rejected(
    emulator: DiscordEmulator, synced_bot: EmulatedBot
) -> None:
    """An interaction can be acknowledged once (Discord: 40060)."""
    interaction = await slash(emulator, "health", target="remi")
    channel = synced_bot.get_channel(QUICK_TASKS)
    assert isinstance(channel, discord.TextChannel)
    async with aiohttp.ClientSession() as session:
        url = f"{emulator.api_base}/interactions/{interaction.id}/{interaction.token}/callback"
        async with session.post(url, json={"type": 4, "data": {"content": "again"}}) as response:
            assert response.status == 400
            assert (await response.json())["code"] == 40060


async def test_two_bots_get_their_own_interactions(
    emulator: DiscordEmulator, bot: EmulatedBot
) -> None:
    """Bubabot and a simulated Remi can be connected at once; each gets its own commands."""
    emulator.add_bot(REMI_TOKEN, REMI_ID, "Remi")
    remi = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    tree = app_commands.CommandTree(remi)

    @tree.command(name="scan", description="Score a track", guild=discord.Object(GUILD))
    async def scan(interaction: discord.Interaction, url: str) -> None:
        await interaction.response.send_message(f"scored {url}")

    task = await connect(remi, REMI_TOKEN)
    try:
        await tree.sync(guild=discord.Object(GUILD))
        await bot.tree.sync(guild=discord.Object(GUILD))
        scanned = await emulator.invoke_slash(
            guild_id=GUILD,
            channel_id=QUICK_TASKS,
            user_id=PERSON,
            name="scan",
            options={"url": "https://soundcloud.com/x"},
            bot_token=REMI_TOKEN,
        )
        await emulator.wait_for_response(scanned)
        assert scanned.original is not None and scanned.original.author.id == REMI_ID
        with pytest.raises(EmulatorError, match="pass bot_token"):
            await emulator.invoke_slash(
                guild_id=GUILD, channel_id=QUICK_TASKS, user_id=PERSON, name="health"
            )
    finally:
        await remi.close()
        await task


async def test_wait_for_times_out_clearly(emulator: DiscordEmulator) -> None:
    """A predicate that never holds raises EmulatorTimeout (a TimeoutError) naming it."""
    with pytest.raises(EmulatorTimeout, match="never"):
        await emulator.wait_for(lambda: False, timeout=0.05, what="never")
