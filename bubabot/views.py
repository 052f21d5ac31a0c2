"""Buttons on alert messages that keep working after Bubabot restarts.

Every button is a ``DynamicItem``: its state (target, alert kind, acknowledgement refs)
lives in the ``custom_id`` (≤ 100 characters) and the classes are registered with
``add_dynamic_items`` in ``setup_hook``, so a click on a message posted days ago by an
earlier Bubabot process is still handled. Access is checked per click with the same
policy as the slash commands; a restart from a button asks for the same confirmation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Self

import discord
from discord.ui import Button, DynamicItem

from bubabot.access import Tier
from bubabot.alertmanager_view import AM_BUTTONS
from bubabot.runbook import runbook_of
from remi_ops.alerts.model import LineState, Notification, NotificationType

CUSTOM_ID_MAX = 100
TARGET = r"(?P<target>[a-z0-9][a-z0-9_-]{0,31})"
KIND = r"(?P<kind>[a-z0-9_]{1,40})"
HEX_REF = re.compile(r"[0-9a-f]{1,64}")
ACK_PREFIX = "bubabot:ack:"
OPEN_STATES = (LineState.FIRING, LineState.FLAPPING)

AlertButton = DynamicItem[Button[discord.ui.View]]


class RestartButton(AlertButton, template=rf"bubabot:restart:{TARGET}"):
    """Restart the target, after the same confirmation as /remi-restart."""

    def __init__(self, target: str) -> None:
        super().__init__(Button(label="Restart", emoji="🔄", style=discord.ButtonStyle.danger,
                                custom_id=f"bubabot:restart:{target}"))
        self.target = target

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> Self:
        return cls(match["target"])

    async def callback(self, interaction: discord.Interaction) -> None:
        runbook = runbook_of(interaction)
        actor = await runbook.gate.admit(interaction, Tier.DESTRUCTIVE, "restart", self.target)
        if actor is not None:
            await runbook.ask_restart(interaction, actor, self.target,
                                      reason="restart button on an alert", via="alert button")


class ErrorsButton(AlertButton, template=rf"bubabot:errors:{TARGET}"):
    """The target's error groups of the last 24 hours, for the person who clicked."""

    def __init__(self, target: str) -> None:
        super().__init__(Button(label="Errors", emoji="📋", style=discord.ButtonStyle.secondary,
                                custom_id=f"bubabot:errors:{target}"))
        self.target = target

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> Self:
        return cls(match["target"])

    async def callback(self, interaction: discord.Interaction) -> None:
        runbook = runbook_of(interaction)
        if await runbook.gate.admit(interaction, Tier.READ, "errors", self.target) is not None:
            await runbook.errors(interaction, self.target, "24h")


class ScanButton(AlertButton, template=rf"bubabot:scan:{TARGET}"):
    """Run the /scan smoke test now; the result is public."""

    def __init__(self, target: str) -> None:
        super().__init__(Button(label="Scan test", emoji="🧪",
                                style=discord.ButtonStyle.secondary,
                                custom_id=f"bubabot:scan:{target}"))
        self.target = target

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> Self:
        return cls(match["target"])

    async def callback(self, interaction: discord.Interaction) -> None:
        runbook = runbook_of(interaction)
        actor = await runbook.gate.admit(interaction, Tier.OPERATE, "scan test", self.target)
        if actor is not None:
            await runbook.scan_test(interaction, actor, self.target, via="alert button")


class AckButton(AlertButton, template=r"bubabot:ack:(?P<refs>[0-9a-f]{1,64}(?:\.[0-9a-f]{1,64})*)"):
    """Acknowledge the alerts of this message (by message key or alert ids); repeats stop."""

    def __init__(self, refs: Sequence[str]) -> None:
        super().__init__(Button(label="Acknowledge", emoji="👍",
                                style=discord.ButtonStyle.primary,
                                custom_id=ACK_PREFIX + ".".join(refs)))
        self.refs = list(refs)

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> Self:
        return cls(match["refs"].split("."))

    async def callback(self, interaction: discord.Interaction) -> None:
        runbook = runbook_of(interaction)
        actor = await runbook.gate.admit(interaction, Tier.OPERATE, "ack")
        if actor is not None:
            await runbook.ack(interaction, actor, self.refs, via="alert button")


class SilenceButton(AlertButton, template=rf"bubabot:silence1h:{TARGET}:{KIND}"):
    """Silence this kind of alert on the target for one hour."""

    def __init__(self, target: str, kind: str) -> None:
        super().__init__(Button(label=f"Silence {kind} 1h"[:80], emoji="🔕",
                                style=discord.ButtonStyle.secondary,
                                custom_id=f"bubabot:silence1h:{target}:{kind}"))
        self.target, self.kind = target, kind

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> Self:
        return cls(match["target"], match["kind"])

    async def callback(self, interaction: discord.Interaction) -> None:
        runbook = runbook_of(interaction)
        actor = await runbook.gate.admit(interaction, Tier.OPERATE, "silence", self.target)
        if actor is not None:
            await runbook.silence(interaction, actor, self.target, kind=self.kind,
                                  fingerprint=None, duration="1h",
                                  reason="silenced for 1 h from the alert message",
                                  via="alert button")


#: every persistent button Bubabot registers (``setup_hook``), Alertmanager's groups' too
ALERT_BUTTONS: tuple[type[AlertButton], ...] = (RestartButton, ErrorsButton, ScanButton,
                                                 AckButton, SilenceButton, *AM_BUTTONS)


def ack_refs(n: Notification) -> list[str]:
    """What the Acknowledge button acknowledges, within the custom_id's 100 characters.

    The message key acks everything shown in the message; a reminder (repeat) acks the
    messages it reminds of. Keys that are not hex fall back to the alert ids.
    """
    open_lines = [a for a in n.alerts if a.state in OPEN_STATES and not a.ack_by]
    if not open_lines:
        return []
    if n.type is NotificationType.REPEAT:
        keys = [str(k) for k in n.details.get("original_message_keys", ())]
    else:
        keys = [n.message_key]
    if not keys or not all(HEX_REF.fullmatch(k) for k in keys):
        keys = [a.alert_id for a in open_lines if HEX_REF.fullmatch(a.alert_id)]
    refs: list[str] = []
    room = CUSTOM_ID_MAX - len(ACK_PREFIX)
    for key in dict.fromkeys(keys):
        cost = len(key) + (1 if refs else 0)
        if cost > room:
            break
        refs.append(key)
        room -= cost
    return refs


def alert_view(n: Notification) -> discord.ui.View | None:
    """The buttons an alert message carries; a resolved alert keeps only "Errors"."""
    view = discord.ui.View(timeout=None)
    items: list[AlertButton] = []
    target_ok = re.fullmatch(TARGET, n.target) is not None
    if n.type is NotificationType.RESOLVED:
        items = [ErrorsButton(n.target)] if target_ok else []
    else:
        refs = ack_refs(n)
        if refs:
            items.append(AckButton(refs))
        kinds = [a.key.kind for a in n.alerts if a.state in OPEN_STATES]
        if target_ok and kinds and re.fullmatch(KIND, kinds[0]):
            items.append(SilenceButton(n.target, kinds[0]))
        if target_ok:
            items += [ErrorsButton(n.target), ScanButton(n.target)]
            if n.type is not NotificationType.EVENT:
                items.append(RestartButton(n.target))
    for item in items:
        view.add_item(item)
    return view if items else None
