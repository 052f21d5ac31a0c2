"""The Remi simulator's Discord face: a real ``discord.Client`` with a guild ``/scan``.

It is NOT Remi. Imported only by ``remi_sim run --discord`` (or when
``$BUBABOT_DISCORD_API_BASE`` and ``$REMI_DISCORD_TOKEN`` are set), so the plain simulator
never imports discord. discord.py is pointed at the local emulator by
``bubabot_local.discord_patch.patch_from_env`` before the client is built.

``/scan url:`` answers per the persisted scan mode: ``pass`` → a score embed; ``fail`` →
the incident's NameError inside the command (discord.py logs "Ignoring exception in command
'scan'"); ``hang`` → the synchronous SoundCloud call blocks the event loop, so discord.py's
own keep-alive thread warns "heartbeat blocked" every 10 s, as it did in the incident.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bubabot_local import remi_sim_faults as faults
from bubabot_local.discord_patch import patch_from_env

if TYPE_CHECKING:
    from bubabot_local.remi_sim import Simulator

ENV_TOKEN = "REMI_DISCORD_TOKEN"  # noqa: S105 - the variable's name, not a secret
EX_CONFIG = 78  # sysexits: a restart cannot fix it (the default no_restart_exit_codes)

log = logging.getLogger("remi_sim")


def scan_command(sim: Simulator) -> app_commands.Command[Any, ..., None]:
    """The guild ``/scan url:`` command, behaving as the persisted scan mode says."""

    @app_commands.command(name="scan", description="Score a SoundCloud track (simulated Remi)")
    @app_commands.describe(url="SoundCloud track URL")
    async def scan(interaction: discord.Interaction, url: str) -> None:
        await interaction.response.defer(thinking=True)
        mode = faults.load_scan_mode(sim.options.workdir)
        if mode == "hang":
            faults.block_event_loop(url, faults.DEFAULT_HANG_S)  # on the loop, like Remi
        elif mode == "fail":
            await faults.scoring_async(sim.options.workdir)([url])  # raises the NameError
        embed = discord.Embed(title="Scan result (simulated)", description=url)
        embed.add_field(name="Score", value=f"{faults.SIM_SCORE}/100")
        embed.set_footer(text="Remi simulator — not Remi")
        await interaction.followup.send(embed=embed)

    return scan


class SimClient(discord.Client):
    """A plain discord.py client with a command tree, like Remi's."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__(intents=discord.Intents.default())
        self.sim = sim
        self.tree = app_commands.CommandTree(self)
        self.guild = discord.Object(id=sim.options.guild_id) if sim.options.guild_id else None
        self.tree.add_command(scan_command(sim), guild=self.guild)

    async def setup_hook(self) -> None:
        """Sync the guild command (instant for one guild), or globally without a guild."""
        await self.tree.sync(guild=self.guild)


async def serve_control(sim: Simulator) -> None:
    """Obey control commands until one of them (or a signal) sets an exit code."""
    while sim.exit_code is None:
        await sim.serve_once()


async def run_discord(sim: Simulator) -> int:
    """Log in to the (emulated) Discord and serve until stopped; return the exit code."""
    token = os.environ.get(ENV_TOKEN, "")
    if not token:
        log.error("%s is not set; the simulator cannot log in", ENV_TOKEN)
        return EX_CONFIG
    patch_from_env()
    async with SimClient(sim) as client:
        sim.start_services(keepalive=False)  # discord.py's own keep-alive thread warns
        await client.login(token)
        tasks = {
            asyncio.create_task(client.connect(), name="gateway"),
            asyncio.create_task(serve_control(sim), name="control"),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a crash or a fatal gateway error propagates
        finally:
            sim.stop_services(clean=False)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    sim.stop_services(clean=True)
    return sim.exit_code if sim.exit_code is not None else 0
