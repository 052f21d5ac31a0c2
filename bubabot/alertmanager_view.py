"""The buttons on an Alertmanager group's message: Silence (1h/4h/24h), Expire silence, Runbook.

Persistent like the alert buttons (``bubabot.views``): their state is in the custom_id —
the group's id (its row in the store holds the labels and Alertmanager's URL), the
duration, the silence id — so they work on messages an earlier Bubabot posted. Silence
and Expire are operator actions with the same gate and audit as the others: the audit
row is written before Alertmanager is called, and completed with the result. The
silence's answer is public and carries the Expire button, so anyone on call can undo it.
Runbook shows /remi-health and /remi-errors for the target named by the group's
``[alertmanager] target_label`` label, when it is one Bubabot supervises.
"""

from __future__ import annotations

import asyncio
import re
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Self

import discord
from discord.ui import Button, DynamicItem

from bubabot import render
from bubabot.access import Actor, Tier
from bubabot.health_embed import health_embed
from bubabot.interact import reply, reply_error
from bubabot.runbook import runbook_of
from remi_ops.alertmanager.groups import GroupState
from remi_ops.alertmanager.rows import AlertmanagerRows
from remi_ops.alertmanager.silences import SilenceApiError, SilencesClient
from remi_ops.config import AlertmanagerSettings
from remi_ops.exceptions import RemiOpsError

GID = r"(?P<gid>[0-9a-f]{32})"
TARGET = r"(?P<target>[a-z0-9][a-z0-9_-]{0,31})"
DURATIONS = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "24h": timedelta(hours=24)}
ERRORS_SINCE_S = 24 * 3600.0

Item = DynamicItem[Button[discord.ui.View]]


@dataclass(frozen=True)
class AlertmanagerDesk:
    """What the buttons need besides the runbook: the groups and the settings."""

    rows: AlertmanagerRows
    settings: AlertmanagerSettings

    async def group(self, gid: str) -> GroupState | None:
        return await asyncio.to_thread(self.rows.group, gid)

    def silences(self, group: GroupState) -> SilencesClient:
        return SilencesClient(self.settings.api_url or group.external_url)


_desks: weakref.WeakKeyDictionary[discord.Client, AlertmanagerDesk] = \
    weakref.WeakKeyDictionary()


def attach_desk(client: discord.Client, desk: AlertmanagerDesk) -> None:
    """Give ``client``'s buttons their store and settings (``bubabot.app`` does)."""
    _desks[client] = desk


async def desk_of(interaction: discord.Interaction) -> AlertmanagerDesk | None:
    desk = _desks.get(interaction.client)
    if desk is None:
        await reply_error(interaction, "The Alertmanager receiver is not configured on this "
                                       "Bubabot ([alertmanager] listen).")
    return desk


async def _group_or_say(interaction: discord.Interaction, desk: AlertmanagerDesk,
                        gid: str) -> GroupState | None:
    group = await desk.group(gid)
    if group is None:
        await reply_error(interaction, "This Alertmanager group is no longer known to Bubabot.")
    return group


class AmSilenceButton(Item, template=rf"bubabot:am-silence:{GID}:(?P<d>1h|4h|24h)"):
    """Silence the group in Alertmanager (its common labels as equality matchers)."""

    def __init__(self, gid: str, duration: str) -> None:
        super().__init__(Button(label=f"Silence {duration}", emoji="🔕",
                                style=discord.ButtonStyle.secondary,
                                custom_id=f"bubabot:am-silence:{gid}:{duration}"))
        self.gid, self.duration = gid, duration

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> Self:
        return cls(match["gid"], match["d"])

    async def callback(self, interaction: discord.Interaction) -> None:
        runbook = runbook_of(interaction)
        desk = await desk_of(interaction)
        if desk is None:
            return
        actor = await runbook.gate.admit(interaction, Tier.OPERATE, "alertmanager silence")
        if actor is None:
            return
        group = await _group_or_say(interaction, desk, self.gid)
        if group is not None:
            await silence(interaction, actor, desk, group, self.duration)


async def silence(interaction: discord.Interaction, actor: Actor, desk: AlertmanagerDesk,
                  group: GroupState, duration: str) -> None:
    """Audit, then create the silence, then answer publicly with an Expire button."""
    gate = runbook_of(interaction).gate
    await interaction.response.defer(thinking=True)
    name = group.common_labels.get("alertname", group.group_id[:12])
    arguments = {"group": group.group_key[:200], "duration": duration,
                 "matchers": dict(group.common_labels)}
    await gate.record(actor, "alertmanager silence", name, arguments, "requested", ok=True,
                      duration_s=0.0, post=False)
    started = time.monotonic()
    try:
        silence_id = await desk.silences(group).create(
            group.common_labels, starts=datetime.now(UTC), duration=DURATIONS[duration],
            created_by=actor.label, comment=f"silenced {duration} from Discord (#quick-tasks)")
    except SilenceApiError as error:
        await reply_error(interaction, f"⚠️ Could not silence {name}: {error}")
        await gate.record(actor, "alertmanager silence", name, arguments, f"failed: {error}",
                          ok=False, duration_s=time.monotonic() - started, post=False)
        return
    view = discord.ui.View(timeout=None)
    view.add_item(AmExpireButton(group.group_id, silence_id))
    await reply(interaction, f"🔕 {actor.name} silenced **{render.clip(name, 100)}** for "
                             f"{duration} in Alertmanager (silence `{silence_id}`).",
                view=view)
    await gate.record(actor, "alertmanager silence", name, arguments,
                      f"silence {silence_id} for {duration}", ok=True,
                      duration_s=time.monotonic() - started, post=False)


class AmExpireButton(Item, template=rf"bubabot:am-expire:{GID}:(?P<sid>[0-9A-Za-z-]{{1,60}})"):
    """Expire the silence this message announced."""

    def __init__(self, gid: str, silence_id: str) -> None:
        super().__init__(Button(label="Expire silence", emoji="🔔",
                                style=discord.ButtonStyle.secondary,
                                custom_id=f"bubabot:am-expire:{gid}:{silence_id}"))
        self.gid, self.silence_id = gid, silence_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> Self:
        return cls(match["gid"], match["sid"])

    async def callback(self, interaction: discord.Interaction) -> None:
        gate = runbook_of(interaction).gate
        desk = await desk_of(interaction)
        if desk is None:
            return
        actor = await gate.admit(interaction, Tier.OPERATE, "alertmanager expire silence")
        if actor is None:
            return
        group = await _group_or_say(interaction, desk, self.gid)
        if group is None:
            return
        await interaction.response.defer(thinking=True)
        arguments = {"silence": self.silence_id}
        await gate.record(actor, "alertmanager expire silence", None, arguments, "requested",
                          ok=True, duration_s=0.0, post=False)
        started = time.monotonic()
        try:
            await desk.silences(group).expire(self.silence_id)
        except SilenceApiError as error:
            await reply_error(interaction, f"⚠️ Could not expire silence {self.silence_id}: "
                                           f"{error}")
            await gate.record(actor, "alertmanager expire silence", None, arguments,
                              f"failed: {error}", ok=False,
                              duration_s=time.monotonic() - started, post=False)
            return
        await reply(interaction, f"🔔 {actor.name} expired silence `{self.silence_id}`.")
        await gate.record(actor, "alertmanager expire silence", None, arguments, "expired",
                          ok=True, duration_s=time.monotonic() - started, post=False)


class AmRunbookButton(Item, template=rf"bubabot:am-runbook:{TARGET}"):
    """/remi-health and /remi-errors (24 h) of the target the alert names."""

    def __init__(self, target: str) -> None:
        super().__init__(Button(label=f"Runbook: {target}"[:80], emoji="📖",
                                style=discord.ButtonStyle.primary,
                                custom_id=f"bubabot:am-runbook:{target}"))
        self.target = target

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> Self:
        return cls(match["target"])

    async def callback(self, interaction: discord.Interaction) -> None:
        runbook = runbook_of(interaction)
        if await runbook.gate.admit(interaction, Tier.READ, "alertmanager runbook",
                                    self.target) is None:
            return
        names = list(runbook.service.target_names)
        if self.target not in names:
            await reply_error(interaction, f"`{self.target}` is not a target this Bubabot "
                                           f"supervises (it knows {', '.join(names) or 'none'}); "
                                           "ask the Bubabot on that host.")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            view = await runbook.service.health(self.target)
            groups = await runbook.service.errors(self.target, ERRORS_SINCE_S)
        except RemiOpsError as error:
            await reply_error(interaction, f"⚠️ Runbook for {self.target} failed: {error}")
            return
        lag = view.bubabot_lag_s if view.bubabot_lag_s is not None \
            else runbook.service.loop_lag()[0]
        health = health_embed(view.report, last_scan=view.last_scan, bubabot_lag_s=lag,
                              state_reason=view.state_reason, restarts=view.restarts,
                              maintenance_until=view.maintenance_until)
        errors = render.errors_embed(self.target, groups, "last 24 hours")
        await interaction.followup.send(embeds=[health, errors], ephemeral=True)


AM_BUTTONS: tuple[type[Item], ...] = (AmSilenceButton, AmExpireButton, AmRunbookButton)


def group_view(group: GroupState, target_label: str) -> discord.ui.View | None:
    """Silence buttons while something fires; Runbook when the group names a target."""
    view = discord.ui.View(timeout=None)
    if group.firing and group.common_labels:
        for duration in DURATIONS:
            view.add_item(AmSilenceButton(group.group_id, duration))
    target = group.common_labels.get(target_label, "")
    if re.fullmatch(TARGET, target):
        view.add_item(AmRunbookButton(target))
    return view if view.children else None
