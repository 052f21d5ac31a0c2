"""Alert admin: /remi-silence, /remi-ack and /remi-resolve (the alert buttons live in
``bubabot.views``)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bubabot.access import Tier
from bubabot.cogs import SILENCE_FOR, TARGET_HELP, target_autocomplete, tier
from bubabot.cogs.control import REASON_MAX
from bubabot.interact import actor_of
from bubabot.runbook import Runbook


class AlertsCog(commands.Cog, name="Alerts"):
    """Mute alerts for a while (always expiring), acknowledge them, mark errors fixed."""

    def __init__(self, runbook: Runbook) -> None:
        self.runbook = runbook

    @app_commands.command(name="remi-silence", extras=tier(Tier.OPERATE),
                          description="Mute matching alerts for a while (it always expires)")
    @app_commands.describe(duration="For how long", reason="Why (shown on the silence)",
                           kind="Only this alert kind, e.g. hang or error_group (* globs)",
                           fingerprint="Only this error group's fingerprint",
                           target=TARGET_HELP)
    @app_commands.choices(duration=SILENCE_FOR)
    @app_commands.autocomplete(target=target_autocomplete)
    async def silence(  # noqa: PLR0917 - a slash command's options are its parameters
            self, interaction: discord.Interaction, duration: str,
                      reason: app_commands.Range[str, 1, REASON_MAX],
                      kind: app_commands.Range[str, 1, 40] | None = None,
                      fingerprint: app_commands.Range[str, 1, 64] | None = None,
                      target: str | None = None) -> None:
        await self.runbook.silence(interaction, actor_of(interaction.user), target, kind=kind,
                                   fingerprint=fingerprint, duration=duration, reason=reason,
                                   via="/remi-silence")

    @app_commands.command(name="remi-ack", extras=tier(Tier.OPERATE),
                          description="Acknowledge an alert: stops its reminders")
    @app_commands.describe(ref="Alert id, alert key (target/kind[/fingerprint]) or message key")
    async def ack(self, interaction: discord.Interaction,
                  ref: app_commands.Range[str, 1, 200]) -> None:
        await self.runbook.ack(interaction, actor_of(interaction.user), [ref],
                               via="/remi-ack")

    @app_commands.command(name="remi-resolve", extras=tier(Tier.OPERATE),
                          description="Mark an error group fixed: if it returns, it is a "
                                      "regression")
    @app_commands.describe(fingerprint="The error group's fingerprint (/remi-errors shows it)",
                           target=TARGET_HELP)
    @app_commands.autocomplete(target=target_autocomplete)
    async def resolve(self, interaction: discord.Interaction,
                      fingerprint: app_commands.Range[str, 1, 64],
                      target: str | None = None) -> None:
        await self.runbook.resolve(interaction, actor_of(interaction.user), target,
                                   fingerprint=fingerprint, via="/remi-resolve")
