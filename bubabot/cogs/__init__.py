"""Thin cogs, one per runbook area: they declare slash commands and hand them to the runbook.

Each command says its access tier in ``extras["tier"]``; the command tree checks it before
the command runs (``bubabot.bot.BubabotTree``). Parsing is discord.py's; everything after
it is ``bubabot.runbook``.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bubabot.access import Tier
from bubabot.runbook import runbook_of

TARGET_HELP = "Which bot (default: the first configured target)"
SINCE_CHOICES = [app_commands.Choice(name="last hour", value="1h"),
                 app_commands.Choice(name="last 24 hours", value="24h"),
                 app_commands.Choice(name="last 7 days", value="7d")]
ERRORS_SINCE = [*SINCE_CHOICES, app_commands.Choice(name="all time", value="all")]
HISTORY_SINCE = [*SINCE_CHOICES, app_commands.Choice(name="last 30 days", value="30d")]
SILENCE_FOR = [app_commands.Choice(name=n, value=v) for n, v in
               (("1 hour", "1h"), ("4 hours", "4h"), ("24 hours", "24h"), ("7 days", "7d"))]
MAINTENANCE_FOR = [app_commands.Choice(name=n, value=v) for n, v in
                   (("30 minutes", "30m"), ("1 hour", "1h"), ("4 hours", "4h"),
                    ("24 hours", "24h"), ("end maintenance now", "end"))]


def tier(level: Tier) -> dict[str, Any]:
    """``extras`` of a command: the access tier the tree enforces."""
    return {"tier": level}


def tier_of(command: app_commands.Command[Any, Any, Any] | app_commands.ContextMenu |
            app_commands.Group) -> Tier:
    """A command's tier; one without a tier is treated as destructive (fail closed)."""
    level = command.extras.get("tier")
    return level if isinstance(level, Tier) else Tier.DESTRUCTIVE


async def target_autocomplete(interaction: discord.Interaction,
                              current: str) -> list[app_commands.Choice[str]]:
    """Configured target names matching what the person typed."""
    return runbook_of(interaction).target_choices(current)
