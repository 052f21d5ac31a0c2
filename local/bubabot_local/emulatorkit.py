"""A real discord.py client for the emulator's tests, and the world it logs in to.

``EmulatedBot`` is a plain ``Client`` + ``CommandTree`` with one command per response
style (immediate, deferred with files, edit original, ephemeral, too slow, subcommand,
autocomplete) and a persistent button view; ``connect`` logs it in the way production
does, ``slash`` runs a command as the guild's person and waits for the answer.
"""

from __future__ import annotations

import asyncio
import io

import discord
from discord import app_commands

from bubabot_local.emulator import DiscordEmulator, Interaction

GUILD = 1_180_000_000_000_000_001
QUICK_TASKS = 1_180_000_000_000_000_002
OPS_ROLE = 1_180_000_000_000_000_003
PERSON = 1_180_000_000_000_000_004
BOT_ID = 1_180_000_000_000_000_005
REMI_ID = 1_180_000_000_000_000_006
TOKEN = "bubabot.emulated.token-8f3a"  # noqa: S105 - a fixed test token, valid only here
REMI_TOKEN = "remi.emulated.token-51c2"  # noqa: S105 - a fixed test token, valid only here
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


async def connect(client: discord.Client, token: str) -> asyncio.Task[None]:
    """Pitfall 6: login first (REST errors surface here), then run the gateway in a task."""
    await client.login(token)
    task = asyncio.create_task(client.connect())
    await asyncio.wait_for(client.wait_until_ready(), 5)
    return task


async def slash(emulator: DiscordEmulator, name: str, **options: object) -> Interaction:
    """Run ``/name`` as the person in #quick-tasks and wait for the complete answer."""
    interaction = await emulator.invoke_slash(
        guild_id=GUILD, channel_id=QUICK_TASKS, user_id=PERSON, name=name, options=options
    )
    return await emulator.wait_for_response(interaction)
