"""The edge between an interaction and the runbook: who is asking, may they, replying, audit.

Slash commands pass the access gate in the command tree; buttons pass it in their
callbacks. Both end up in :class:`Gate`, so a refusal reads the same everywhere and is
always recorded.

The audit trail has two halves: ``OpsService.audit`` writes the store (the record of
truth, ``audit_log``), and Bubabot itself posts a one-line summary to the alert channel
(#quick-tasks) so people see who did what. The line is posted here and not by the service
because it is presentation and only Bubabot has a Discord client; it is best-effort (a
failed post is logged, the stored record stays). Refusals are stored but not posted, so
someone clicking a button they may not use cannot flood the channel.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import discord

from bubabot.access import AccessPolicy, Actor, Tier
from bubabot.render import audit_line
from bubabot.service import OpsService

log = logging.getLogger(__name__)
MISSING: Any = discord.utils.MISSING
#: what can go wrong talking to Discord that is not a bug in Bubabot
DISCORD_TROUBLE = (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError)


def actor_of(user: discord.User | discord.Member) -> Actor:
    """The person behind an interaction, with the role ids the interaction carried.

    ``Member.roles`` drops ids whose Role is not in the cache; the raw ids from the
    payload are what Discord vouches for, so the decision uses those.
    """
    role_ids = frozenset(int(r) for r in user._roles) if isinstance(user, discord.Member) \
        else frozenset()
    return Actor(user.id, user.name, role_ids)


async def reply(interaction: discord.Interaction, content: str = MISSING, *,
                embed: discord.Embed = MISSING, files: Sequence[discord.File] = MISSING,
                view: discord.ui.View = MISSING, ephemeral: bool = False) -> None:
    """Answer, whether or not the interaction was already acknowledged (deferred)."""
    if interaction.response.is_done():
        await interaction.followup.send(content, embed=embed, files=files, view=view,
                                        ephemeral=ephemeral)
    else:
        await interaction.response.send_message(content, embed=embed, files=files, view=view,
                                                ephemeral=ephemeral)


async def reply_error(interaction: discord.Interaction, text: str) -> None:
    """Tell the person something failed, without failing again if Discord is the problem."""
    try:
        await reply(interaction, text, ephemeral=True)
    except DISCORD_TROUBLE as error:
        log.warning("could not tell %s about an error: %s", interaction.user, error)


class Gate:
    """Access decisions with their refusal message, and the audit trail."""

    def __init__(self, client: discord.Client, service: OpsService, policy: AccessPolicy,
                 audit_channel_id: int) -> None:
        self.client = client
        self.service = service
        self.policy = policy
        self.audit_channel_id = audit_channel_id

    def decide(self, interaction: discord.Interaction, tier: Tier) -> tuple[Actor, str | None]:
        """(actor, refusal reason or None)."""
        actor = actor_of(interaction.user)
        decision = self.policy.decide(actor, tier, guild_id=interaction.guild_id,
                                      channel_id=interaction.channel_id)
        return actor, None if decision.allowed else decision.reason

    async def admit(self, interaction: discord.Interaction, tier: Tier, action: str,
                    target: str | None = None) -> Actor | None:
        """The actor when allowed; otherwise refuse (ephemeral), record it, return None."""
        actor, refusal = self.decide(interaction, tier)
        if refusal is None:
            return actor
        await reply_error(interaction, f"⛔ {refusal}")
        await self.record(actor, action, target, {}, f"refused: {refusal}", ok=False,
                          duration_s=0.0, post=False)
        return None

    async def refused(self, interaction: discord.Interaction, action: str, why: str) -> None:
        """Audit a refusal that is not the access policy's (a confirmation pressed by
        someone else, or too late); stored, not posted, like every refusal."""
        await self.record(actor_of(interaction.user), action, None, {}, f"refused: {why}",
                          ok=False, duration_s=0.0, post=False)

    async def record(self, actor: Actor, action: str, target: str | None,
                     arguments: Mapping[str, Any], result: str, *, ok: bool,
                     duration_s: float, post: bool = True) -> None:
        """Store the action, then (unless ``post`` is False) announce it in #quick-tasks."""
        try:
            await self.service.audit(actor, action, target, dict(arguments), result, ok,
                                     duration_s)
        except Exception:
            log.exception("could not store the audit record of %s by %s", action, actor.label)
        if not post or not self.audit_channel_id:
            return
        line = audit_line(actor.name, action, target, arguments=arguments, result=result, ok=ok,
                          duration_s=duration_s)
        channel = self.client.get_partial_messageable(self.audit_channel_id)
        try:
            await channel.send(line, allowed_mentions=discord.AllowedMentions.none())
        except DISCORD_TROUBLE as error:
            log.warning("could not post the audit line for %s: %s", action, error)
