"""The local Discord emulator against a real, unmodified discord.py 2.7.1 client.

One bot per test (discord.py binds to the loop in `login()`, pitfall 10); every client is
closed and the emulator stopped in fixtures, because warnings are errors here.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Iterator

import aiohttp
import discord
import pytest
from bubabot_local.discord_patch import ENV_API_BASE, ENV_GATEWAY, is_patched
from bubabot_local.emulator import (
    DiscordEmulator,
    EmulatorError,
    EmulatorTimeout,
    Interaction,
    patch_discord_py,
    patch_from_env,
    unpatch_discord_py,
)
from discord import app_commands

pytestmark = [pytest.mark.integration, pytest.mark.timeout(15)]

GUILD = 1_180_000_000_000_000_001
QUICK_TASKS = 1_180_000_000_000_000_002
OPS_ROLE = 1_180_000_000_000_000_003
PERSON = 1_180_000_000_000_000_004
BOT_ID = 1_180_000_000_000_000_005
REMI_ID = 1_180_000_000_000_000_006
TOKEN = "bubabot.emulated.token-8f3a"
REMI_TOKEN = "remi.emulated.token-51c2"
BINARY = bytes(range(256)) + b"\r\n--not-a-boundary\r\n"


class AckView(discord.ui.View):
    """A persistent alert view: survives restarts because it has timeout=None + custom_id."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(
        label="Acknowledge", custom_id="bubabot:ack", style=discord.ButtonStyle.primary
    )
    async def acknowledge(
        self, interaction: discord.Interaction, button: discord.ui.Button[AckView]
    ) -> None:
        await interaction.response.edit_message(
            content=f"Acknowledged by {interaction.user.name}", view=None
        )


class EmulatedBot(discord.Client):
    """A plain Client + CommandTree with a few commands covering each response style."""

    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.downloaded: list[bytes] = []
        self.late_errors: list[int] = []
        _register_commands(self)

    async def setup_hook(self) -> None:
        self.add_view(AckView())

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5 s sleep before a re-IDENTIFY (pitfall 4)."""


def _register_commands(bot: EmulatedBot) -> None:
    guild = discord.Object(GUILD)

    @bot.tree.command(name="health", description="Remi's health", guild=guild)
    @app_commands.describe(target="which bot", verbose="more detail")
    async def health(interaction: discord.Interaction, target: str, verbose: bool = False) -> None:
        detail = " (verbose)" if verbose else ""
        await interaction.response.send_message(
            f"{target} is healthy{detail}, asked by {interaction.user.name}"
        )

    @bot.tree.command(name="report", description="Deferred report with a file", guild=guild)
    async def report(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        embed = discord.Embed(title="Error report", description="1 group")
        files = [
            discord.File(io.BytesIO(b"NameError: asyncio\n"), filename="excerpt.txt"),
            discord.File(io.BytesIO(BINARY), filename="blob.bin"),
        ]
        message = await interaction.followup.send(embed=embed, files=files, wait=True)
        bot.downloaded.append(await message.attachments[0].read())

    @bot.tree.command(name="restart", description="Deferred, then edit original", guild=guild)
    async def restart(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content="Remi restarted")

    @bot.tree.command(name="secret", description="Ephemeral answer", guild=guild)
    async def secret(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("only you can see this", ephemeral=True)

    @bot.tree.command(name="slow", description="Answers after 0.2 s", guild=guild)
    async def slow(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.2)
        try:
            await interaction.response.send_message("late")
        except discord.NotFound as error:
            bot.late_errors.append(error.code)

    alerts = app_commands.Group(name="alerts", description="Alert admin")

    @alerts.command(name="silence", description="Silence alerts for a while")
    async def silence(
        interaction: discord.Interaction,
        minutes: app_commands.Range[int, 1, 120],
        notify: discord.Role,
        who: discord.Member | None = None,
    ) -> None:
        target = who.name if who is not None else "-"
        await interaction.response.send_message(
            f"silenced {minutes}m, notify {notify.name}, for {target}"
        )

    bot.tree.add_command(alerts, guild=guild)

    @bot.tree.command(name="errors", description="Autocomplete target", guild=guild)
    async def errors(interaction: discord.Interaction, group: str) -> None:
        await interaction.response.send_message(group)

    @errors.autocomplete("group")
    async def group_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        names = ["NameError", "TimeoutError", "KeyError"]
        return [app_commands.Choice(name=n, value=n) for n in names if current.lower() in n.lower()]


@pytest.fixture(autouse=True)
def no_swallowed_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """discord.py logs (and swallows) exceptions in commands and views; fail on them."""
    yield
    records = caplog.get_records("setup") + caplog.get_records("call")
    errors = [
        r.getMessage()
        for r in records
        if r.levelno >= logging.ERROR and not r.getMessage().startswith("Attempting a reconnect")
    ]
    assert errors == []


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    emu = DiscordEmulator()
    await emu.start()
    patch_discord_py(emu)
    emu.add_guild(GUILD)
    emu.add_channel(GUILD, QUICK_TASKS, "quick-tasks")
    emu.add_role(GUILD, OPS_ROLE, "ops")
    emu.add_member(GUILD, PERSON, "jordan", [OPS_ROLE])
    emu.add_bot(TOKEN, BOT_ID, "Bubabot")
    yield emu
    await emu.stop()
    unpatch_discord_py()


async def _connect(client: discord.Client, token: str) -> asyncio.Task[None]:
    """Pitfall 6: login first (REST errors surface here), then run the gateway in a task."""
    await client.login(token)
    task = asyncio.create_task(client.connect())
    await asyncio.wait_for(client.wait_until_ready(), 5)
    return task


@pytest.fixture
async def bot(emulator: DiscordEmulator) -> AsyncIterator[EmulatedBot]:
    client = EmulatedBot()
    task = await _connect(client, TOKEN)
    yield client
    await client.close()
    await task


@pytest.fixture
async def synced_bot(bot: EmulatedBot) -> EmulatedBot:
    await bot.tree.sync(guild=discord.Object(GUILD))
    return bot


async def _slash(emulator: DiscordEmulator, name: str, **options: object) -> Interaction:
    interaction = await emulator.invoke_slash(
        guild_id=GUILD, channel_id=QUICK_TASKS, user_id=PERSON, name=name, options=options
    )
    return await emulator.wait_for_response(interaction)


# --- login and sync ------------------------------------------------------------------------


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


# --- interactions --------------------------------------------------------------------------


async def test_slash_command_answered_immediately(
    emulator: DiscordEmulator, synced_bot: EmulatedBot
) -> None:
    """Options reach the command; the response is recorded with its latency."""
    interaction = await _slash(emulator, "health", target="remi", verbose="yes")
    assert interaction.callback_type == 4 and not interaction.ephemeral
    assert interaction.original is not None
    assert interaction.original.content == "remi is healthy (verbose), asked by jordan"
    assert interaction.latency is not None and 0 < interaction.latency < 3
    assert [m.content for m in emulator.messages(QUICK_TASKS)] == [interaction.original.content]


async def test_subcommand_with_role_and_member_options(
    emulator: DiscordEmulator, synced_bot: EmulatedBot
) -> None:
    """ "group sub" names a subcommand; role/member options arrive resolved."""
    interaction = await _slash(
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
    interaction = await _slash(emulator, "report")
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
    interaction = await _slash(emulator, "restart")
    assert interaction.original_edits == 1
    assert interaction.original is not None and interaction.original.content == "Remi restarted"


async def test_ephemeral_flag_recorded_and_hidden_from_channel(
    emulator: DiscordEmulator, synced_bot: EmulatedBot
) -> None:
    """Ephemeral answers are recorded but not part of what the channel shows."""
    interaction = await _slash(emulator, "secret")
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
    interaction = await _slash(emulator, "health", target="remi")
    channel = synced_bot.get_channel(QUICK_TASKS)
    assert isinstance(channel, discord.TextChannel)
    async with aiohttp.ClientSession() as session:
        url = f"{emulator.api_base}/interactions/{interaction.id}/{interaction.token}/callback"
        async with session.post(url, json={"type": 4, "data": {"content": "again"}}) as response:
            assert response.status == 400
            assert (await response.json())["code"] == 40060


# --- messages ------------------------------------------------------------------------------


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
    await _slash(emulator, "report")
    assert emulator.requests
    for request in emulator.requests:
        assert TOKEN.encode() not in request.body
        assert request.header("Authorization") is None
    assert emulator.unhandled_requests == []


# --- faults --------------------------------------------------------------------------------


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

    task = await _connect(remi, REMI_TOKEN)
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


# --- patching ------------------------------------------------------------------------------


def test_patch_from_env_needs_both_variables() -> None:
    """A child process patches only when both variables are set; half-set is an error."""
    try:
        assert patch_from_env({}) is False
        assert not is_patched()
        with pytest.raises(ValueError, match="both"):
            patch_from_env({ENV_API_BASE: "http://127.0.0.1:1/api/v10"})
        env = {
            ENV_API_BASE: "http://127.0.0.1:1/api/v10/",
            ENV_GATEWAY: "ws://127.0.0.1:1/gateway/",
        }
        assert patch_from_env(env) is True
        assert discord.http.Route.BASE == "http://127.0.0.1:1/api/v10"
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:1/gateway/"
    finally:
        unpatch_discord_py()
