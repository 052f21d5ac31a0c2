"""The Bubabot client: cogs, persistent alert buttons, the access gate, and careful syncing.

Guild commands are synced only when their definition changed: the payload discord.py
would send is hashed and compared with the hash stored after the last successful sync
(Discord allows 200 command creates per day per guild, and a restart loop must not burn
them). A cheap ``GET`` of the remote commands guards against a stale state file (commands
deleted on Discord's side, a new application); only a difference leads to the ``PUT``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bubabot.access import AccessPolicy, Tier
from bubabot.cogs import tier_of
from bubabot.cogs.alerts import AlertsCog
from bubabot.cogs.control import ControlCog
from bubabot.cogs.health import HealthCog
from bubabot.interact import DISCORD_TROUBLE, reply_error
from bubabot.runbook import Runbook
from bubabot.service import OpsService
from bubabot.views import ALERT_BUTTONS
from remi_ops.atomicfile import write_atomically
from remi_ops.config import DiscordSettings

log = logging.getLogger(__name__)

ReadyHook = Callable[["Bubabot"], Awaitable[None]]


class BubabotTree(app_commands.CommandTree["Bubabot"]):
    """The tree-wide access gate: every command's tier is checked before it runs."""

    async def interaction_check(self, interaction: discord.Interaction[Bubabot], /) -> bool:
        command = interaction.command
        if command is None:
            return True  # unknown command: the tree reports it
        gate = self.client.runbook.gate
        if interaction.type is discord.InteractionType.autocomplete:
            _, refusal = gate.decide(interaction, Tier.READ)
            if refusal is not None:
                await interaction.response.autocomplete([])
            return refusal is None
        target = getattr(interaction.namespace, "target", None)
        actor = await gate.admit(interaction, tier_of(command), f"/{command.qualified_name}",
                                 target if isinstance(target, str) else None)
        return actor is not None

    async def on_error(self, interaction: discord.Interaction[Bubabot],
                       error: app_commands.AppCommandError, /) -> None:
        name = interaction.command.qualified_name if interaction.command else "?"
        log.error("command /%s failed", name, exc_info=error)
        await reply_error(interaction, "⚠️ Something went wrong while running this command; "
                                       "it was logged.")


class Bubabot(commands.Bot):
    """Remi's companion bot: the runbook as slash commands and buttons, plus alert delivery."""

    def __init__(self, service: OpsService, settings: DiscordSettings, policy: AccessPolicy, *,
                 sync_state_path: Path, on_ready_hook: ReadyHook | None = None,
                 **options: Any) -> None:
        """``options`` go to ``discord.Client`` (tests pass ``guild_ready_timeout``)."""
        super().__init__(command_prefix=commands.when_mentioned, help_command=None,
                         tree_cls=BubabotTree, intents=discord.Intents.default(),
                         allowed_mentions=discord.AllowedMentions.none(),
                         max_ratelimit_timeout=30, **options)
        self.service = service
        self.settings = settings
        self.runbook = Runbook(self, service, policy, settings)
        self.sync_state_path = sync_state_path
        self.synced_on_start: bool | None = None  # set by setup_hook: did it PUT commands?
        self._on_ready_hook = on_ready_hook
        self._ready_once = False

    @property
    def command_scope(self) -> discord.Object | None:
        """Commands live in the ops guild (instant updates); globally without one."""
        return discord.Object(self.settings.guild_id) if self.settings.guild_id else None

    async def install(self) -> None:
        """Cogs and persistent buttons; no network, so meta-tests can call it directly."""
        scope = self.command_scope
        for cog in (HealthCog(self.runbook), ControlCog(self.runbook), AlertsCog(self.runbook)):
            if scope is None:
                await self.add_cog(cog)
            else:
                await self.add_cog(cog, guild=scope)
        self.add_dynamic_items(*ALERT_BUTTONS)

    async def setup_hook(self) -> None:
        await self.install()
        self.synced_on_start = await self.sync_commands()

    async def sync_commands(self) -> bool:
        """PUT the commands only if they differ from the last sync; True when it did."""
        scope = self.command_scope
        payload = [c.to_dict(self.tree) for c in self.tree._get_all_commands(guild=scope)]
        digest = commands_digest(payload, self.application_id, scope)
        try:
            if _read_digest(self.sync_state_path) == digest:
                remote = await self.tree.fetch_commands(guild=scope)
                if sorted(c.name for c in remote) == sorted(p["name"] for p in payload):
                    log.info("slash commands unchanged; not syncing")
                    return False
            synced = await self.tree.sync(guild=scope)
        except DISCORD_TROUBLE:
            log.exception("could not sync slash commands; the old ones stay until next start")
            return False
        _write_digest(self.sync_state_path, digest)
        log.info("synced %d slash commands", len(synced))
        return True

    async def on_message(self, message: discord.Message, /) -> None:
        """Bubabot has no text commands; a mention must not log "command not found"."""

    async def on_ready(self) -> None:
        log.info("Bubabot ready as %s", self.user)
        if self._on_ready_hook is not None and not self._ready_once:
            self._ready_once = True
            await self._on_ready_hook(self)

    async def close(self) -> None:
        self.runbook.close()
        await super().close()


def commands_digest(payload: list[dict[str, Any]], application_id: int | None,
                    scope: discord.abc.Snowflake | None) -> str:
    """A stable hash of what a sync would send, and where to."""
    ordered = sorted(payload, key=lambda c: (c.get("type", 1), c["name"]))
    text = json.dumps({"application_id": application_id,
                       "guild_id": None if scope is None else scope.id,
                       "commands": ordered}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _read_digest(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def _write_digest(path: Path, digest: str) -> None:
    """Atomically: a crash mid-write must not leave a half hash that looks current."""
    write_atomically(path, digest + "\n")  # mkstemp: a planted fixed-name temp is never followed
