"""Read-only commands: /remi-health, /remi-errors, /remi-history."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bubabot.access import Tier
from bubabot.cogs import (
    ERRORS_SINCE,
    HISTORY_SINCE,
    TARGET_HELP,
    target_autocomplete,
    tier,
)
from bubabot.runbook import Runbook


class HealthCog(commands.Cog, name="Health"):
    """How is Remi, what went wrong, what happened lately."""

    def __init__(self, runbook: Runbook) -> None:
        self.runbook = runbook

    @app_commands.command(name="remi-health", extras=tier(Tier.READ),
                          description="Check Remi now: process, event loop, gateway, errors")
    @app_commands.describe(target=TARGET_HELP)
    @app_commands.autocomplete(target=target_autocomplete)
    async def health(self, interaction: discord.Interaction, target: str | None = None) -> None:
        await self.runbook.health(interaction, target)

    @app_commands.command(name="remi-errors", extras=tier(Tier.READ),
                          description="Remi's error groups (counted, newest first)")
    @app_commands.describe(target=TARGET_HELP, since="How far back (default: 24 hours)")
    @app_commands.choices(since=ERRORS_SINCE)
    @app_commands.autocomplete(target=target_autocomplete)
    async def errors(self, interaction: discord.Interaction, since: str = "24h",
                     target: str | None = None) -> None:
        await self.runbook.errors(interaction, target, since)

    @app_commands.command(name="remi-history", extras=tier(Tier.READ),
                          description="Remi's incidents and restarts, newest first")
    @app_commands.describe(target=TARGET_HELP, since="How far back (default: 24 hours)")
    @app_commands.choices(since=HISTORY_SINCE)
    @app_commands.autocomplete(target=target_autocomplete)
    async def history(self, interaction: discord.Interaction, since: str = "24h",
                      target: str | None = None) -> None:
        await self.runbook.history(interaction, target, since)
