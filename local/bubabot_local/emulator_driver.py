"""Driving bots: turn "a person ran /x" or "clicked y" into INTERACTION_CREATE.

Commands are taken from what the bot synced, components from the message they sit on, so
a test cannot drive something a real person could not.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping

from bubabot_local.emulator_gateway import Gateway
from bubabot_local.emulator_interactions import command_data, interaction_payload
from bubabot_local.emulator_messages import Interaction, Message
from bubabot_local.emulator_state import EmulatorError, EmulatorState
from bubabot_local.emulator_world import JSON, BotAccount, Guild

SLASH_COMMAND = 2
COMPONENT = 3
AUTOCOMPLETE = 4
RECONNECT_WAIT_S = 5.0


class InteractionDriver:
    """Builds and dispatches interactions on behalf of guild members."""

    def __init__(self, state: EmulatorState, gateway: Gateway) -> None:
        self._state = state
        self._gateway = gateway

    def guild(self, guild_id: int) -> Guild:
        """A guild added with `add_guild`."""
        guild = self._state.guilds.get(guild_id)
        if guild is None:
            raise EmulatorError(f"no guild {guild_id}: call add_guild first")
        return guild

    def pick_bot(self, bot_token: str | None, application_id: int | None) -> BotAccount:
        """The bot named by token or application id; the only bot when neither is given."""
        if bot_token is not None:
            if bot_token not in self._state.bots:
                raise EmulatorError("no bot with that token")
            return self._state.bots[bot_token]
        if application_id is not None:
            return self._state.bot_for_application(application_id)
        if len(self._state.bots) != 1:
            raise EmulatorError(f"{len(self._state.bots)} bots: pass bot_token or application_id")
        return next(iter(self._state.bots.values()))

    def command_data(
        self,
        bot: BotAccount,
        guild_id: int,
        name: str,
        options: Mapping[str, object],
        focused: str | None = None,
    ) -> JSON:
        """`data` for `/name` ("group sub" for subcommands) from the bot's synced commands."""
        parts = name.strip().lstrip("/").split()
        if not parts:
            raise EmulatorError("empty command name")
        command, scoped = self._synced_command(bot, guild_id, parts[0])
        return command_data(
            command, parts[1:], options, self.guild(guild_id), guild_scoped=scoped, focused=focused
        )

    def _synced_command(self, bot: BotAccount, guild_id: int, name: str) -> tuple[JSON, bool]:
        """The synced command and whether it is guild-scoped (then `data.guild_id` is set)."""
        scopes = (((bot.application_id, guild_id), True), ((bot.application_id, None), False))
        for key, scoped in scopes:
            for command in self._state.commands.get(key, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command, scoped
        synced = sorted(c["name"] for key, _ in scopes for c in self._state.commands.get(key, []))
        raise EmulatorError(
            f"/{name} is not synced for {bot.user.name} in guild {guild_id} (synced: {synced})"
        )

    def component_bot(
        self, message: Message, bot_token: str | None, application_id: int | None
    ) -> BotAccount:
        """Clicks go to the bot that posted the message unless a bot is named."""
        if bot_token is not None or application_id is not None:
            return self.pick_bot(bot_token, application_id)
        if message.application_id is not None:
            return self._state.bot_for_application(message.application_id)
        bot = self._state.bot_for_user(message.author.id)
        if bot is None:
            raise EmulatorError(f"message {message.id} was not posted by a bot")
        return bot

    @staticmethod
    def component_data(message: Message, custom_id: str, values: list[str] | None) -> JSON:
        """`data` of a click (or a select), checked against the message's current components."""
        component = message.component(custom_id)
        if component is None:
            present = message.custom_ids()
            raise EmulatorError(f"message {message.id} has no component {custom_id!r}: {present}")
        if component.get("disabled"):
            raise EmulatorError(f"component {custom_id!r} is disabled")
        data: JSON = {"custom_id": custom_id, "component_type": component.get("type", 2)}
        if values is not None:
            data["values"] = values
        return data

    async def dispatch(
        self,
        bot: BotAccount,
        kind: int,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        data: JSON,
        message: Message | None = None,
    ) -> Interaction:
        """Record the interaction, then send INTERACTION_CREATE (waiting out a reconnect)."""
        guild = self.guild(guild_id)
        channel = guild.channels.get(channel_id)
        if channel is None:
            raise EmulatorError(f"guild {guild_id} has no channel {channel_id}")
        member = guild.members.get(user_id)
        if member is None:
            raise EmulatorError(f"user {user_id} is not a member of guild {guild_id}")
        if not bot.sees_guild(guild_id):
            raise EmulatorError(f"{bot.user.name} is not in guild {guild_id}")
        record = Interaction(
            id=self._state.ids.next(),
            token=f"emu-{secrets.token_urlsafe(32)}",
            type=kind,
            application_id=bot.application_id,
            bot_user_id=bot.user.id,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            data=data,
            dispatched_at=time.monotonic(),
            message_id=None if message is None else message.id,
        )
        self._state.interactions[record.id] = record
        self._state.interactions_by_token[record.token] = record
        payload = interaction_payload(record, guild, channel, member, message)
        await self._gateway.connected_session(bot, within_s=RECONNECT_WAIT_S)
        record.dispatched_at = time.monotonic()  # latency counts from the actual send
        await self._gateway.dispatch(bot, "INTERACTION_CREATE", payload)
        return record
