"""Commands that act on Remi: /remi-restart, /remi-maintenance, /remi-scan-test, and
/remi-test-alert (does an alert reach #quick-tasks?)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bubabot.access import Tier
from bubabot.cogs import MAINTENANCE_FOR, TARGET_HELP, target_autocomplete, tier
from bubabot.interact import actor_of
from bubabot.runbook import Runbook

REASON_MAX = 300


class ControlCog(commands.Cog, name="Control"):
    """Restart (confirmed), maintenance (confirmed to start) and the /scan smoke test."""

    def __init__(self, runbook: Runbook) -> None:
        self.runbook = runbook

    @app_commands.command(name="remi-restart", extras=tier(Tier.DESTRUCTIVE),
                          description="Stop Remi's whole process tree and start it again")
    @app_commands.describe(target=TARGET_HELP, reason="Why (goes into the audit log)")
    @app_commands.autocomplete(target=target_autocomplete)
    async def restart(self, interaction: discord.Interaction,
                      reason: app_commands.Range[str, 1, REASON_MAX] = "operator request",
                      target: str | None = None) -> None:
        await self.runbook.ask_restart(interaction, actor_of(interaction.user), target,
                                       reason=reason, via="/remi-restart")

    @app_commands.command(name="remi-maintenance", extras=tier(Tier.DESTRUCTIVE),
                          description="Hands off Remi for a while (no restarts, no pages)")
    @app_commands.describe(duration="How long, or end it now", target=TARGET_HELP,
                           reason="Why (goes into the audit log)")
    @app_commands.choices(duration=MAINTENANCE_FOR)
    @app_commands.autocomplete(target=target_autocomplete)
    async def maintenance(self, interaction: discord.Interaction, duration: str,
                          reason: app_commands.Range[str, 1, REASON_MAX],
                          target: str | None = None) -> None:
        await self.runbook.maintenance(interaction, actor_of(interaction.user), target,
                                       duration=duration, reason=reason,
                                       via="/remi-maintenance")

    @app_commands.command(name="remi-scan-test", extras=tier(Tier.OPERATE),
                          description="Run the /scan smoke test against Remi now")
    @app_commands.describe(target=TARGET_HELP)
    @app_commands.autocomplete(target=target_autocomplete)
    async def scan_test(self, interaction: discord.Interaction,
                        target: str | None = None) -> None:
        await self.runbook.scan_test(interaction, actor_of(interaction.user), target,
                                     via="/remi-scan-test")

    @app_commands.command(name="remi-test-alert", extras=tier(Tier.OPERATE),
                          description="Send a marked test alert through every alert sink now")
    @app_commands.describe(target=TARGET_HELP)
    @app_commands.autocomplete(target=target_autocomplete)
    async def test_alert(self, interaction: discord.Interaction,
                         target: str | None = None) -> None:
        await self.runbook.test_alert(interaction, actor_of(interaction.user), target,
                                      via="/remi-test-alert")
