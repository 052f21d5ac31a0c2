"""Confirmations for destructive actions (Hubot's convention, anchors §3).

The question is bound to the person who asked and expires after
``[discord] confirm_timeout_s`` (5 minutes by default). It is an ordinary, non-persistent
view: after a Bubabot restart or the expiry nobody can confirm it any more, which is the
point. Expiry is a hard deadline from the moment the question was asked (discord.py's
view timeout alone restarts on every accepted click).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bubabot.access import Actor
from bubabot.interact import DISCORD_TROUBLE, reply_error

log = logging.getLogger(__name__)

OnConfirm = Callable[[discord.Interaction], Awaitable[None]]
#: told who pressed a button they may not press, and why (it goes into the audit log)
OnRefused = Callable[[discord.Interaction, str], Awaitable[None]]


async def _not_recorded(interaction: discord.Interaction, why: str) -> None:
    log.info("confirmation refused to %s: %s", interaction.user, why)


class ConfirmView(discord.ui.View):
    """[<danger action>] [Cancel], answerable once, by one person, before a deadline."""

    def __init__(self, *, owner: Actor, timeout_s: float, confirm_label: str,
                 on_confirm: OnConfirm, expired_text: str,
                 on_refused: OnRefused = _not_recorded) -> None:
        super().__init__(timeout=timeout_s)
        self.owner = owner
        self.deadline = time.monotonic() + timeout_s
        self.expired_text = expired_text
        self.prompt: discord.Interaction | None = None  # the interaction that asked
        self.answered = False
        self._on_confirm = on_confirm
        self._on_refused = on_refused
        confirm: discord.ui.Button[ConfirmView] = discord.ui.Button(
            label=confirm_label[:80], style=discord.ButtonStyle.danger)
        cancel: discord.ui.Button[ConfirmView] = discord.ui.Button(
            label="Cancel", style=discord.ButtonStyle.secondary)
        # discord.py's documented way to give a Button built at runtime its callback
        confirm.callback = self._confirm  # type: ignore[method-assign]
        cancel.callback = self._cancel  # type: ignore[method-assign]
        self.add_item(confirm)
        self.add_item(cancel)

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only the asker may answer, and only in time; everyone else is told why, and each
        refusal is audited (before the answer, which may fail)."""
        if interaction.user.id != self.owner.user_id:
            await self._on_refused(interaction, f"pressed {self.owner.label}'s confirmation; "
                                                "only they can answer it")
            await reply_error(interaction, f"Only {self.owner.name} can answer this "
                                           "confirmation. Run the command yourself if needed.")
            return False
        if self.expired or self.answered:
            self.stop()
            await self._on_refused(interaction, "the confirmation had expired" if self.expired
                                   else "the confirmation was already answered")
            await interaction.response.edit_message(content=self.expired_text, view=None)
            return False
        return True

    async def _confirm(self, interaction: discord.Interaction) -> None:
        self.answered = True
        self.stop()
        await self._on_confirm(interaction)

    async def _cancel(self, interaction: discord.Interaction) -> None:
        self.answered = True
        self.stop()
        await interaction.response.edit_message(content="Cancelled; nothing was changed.",
                                                view=None)

    async def on_timeout(self) -> None:
        """Say so on the question and remove the buttons, so nothing can be clicked late."""
        if self.prompt is None or self.answered:
            return
        try:
            await self.prompt.edit_original_response(content=self.expired_text, view=None)
        except DISCORD_TROUBLE as error:
            log.warning("could not mark a confirmation as expired: %s", error)

    async def on_error(self, interaction: discord.Interaction, error: Exception,
                       item: discord.ui.Item[Any]) -> None:
        log.error("confirmation for %s failed", self.owner.label, exc_info=error)
        await reply_error(interaction, "⚠️ Something went wrong; it was logged.")
