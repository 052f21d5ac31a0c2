"""What people do in the emulated Discord: slash commands, autocomplete, buttons, selects.

Each action builds an INTERACTION_CREATE through the interaction driver (so nothing a real
person could not do) and returns the :class:`Interaction`; ``wait_for_response`` waits
until the bot has answered it completely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from bubabot_local.emulator_driver import AUTOCOMPLETE, COMPONENT, SLASH_COMMAND
from bubabot_local.emulator_messages import Interaction, Message
from bubabot_local.emulator_observe import Observing
from bubabot_local.emulator_state import EmulatorError


class PeopleActions(Observing):
    """Driving bots on behalf of guild members (components are found on live messages)."""

    async def invoke_slash(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        name: str,
        options: Mapping[str, object] | None = None,
        bot_token: str | None = None,
        application_id: int | None = None,
    ) -> Interaction:
        """A person runs `/name` (subcommands as "group sub"); the bot must have synced it."""
        bot = self._driver.pick_bot(bot_token, application_id)
        data = self._driver.command_data(bot, guild_id, name, dict(options or {}))
        return await self._driver.dispatch(
            bot, SLASH_COMMAND, guild_id=guild_id, channel_id=channel_id, user_id=user_id, data=data
        )

    async def autocomplete(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        name: str,
        focused: str,
        options: Mapping[str, object] | None = None,
        bot_token: str | None = None,
        application_id: int | None = None,
    ) -> Interaction:
        """A person types into option `focused`; the answer's choices are in `.choices`."""
        bot = self._driver.pick_bot(bot_token, application_id)
        values = {focused: "", **dict(options or {})}
        data = self._driver.command_data(bot, guild_id, name, values, focused=focused)
        return await self._driver.dispatch(
            bot, AUTOCOMPLETE, guild_id=guild_id, channel_id=channel_id, user_id=user_id, data=data
        )

    async def click_button(
        self,
        *,
        user_id: int,
        message_id: int,
        custom_id: str,
        guild_id: int | None = None,
        channel_id: int | None = None,
        bot_token: str | None = None,
        application_id: int | None = None,
    ) -> Interaction:
        """A person clicks a button; it goes to the bot that posted the message.

        `guild_id`/`channel_id` default to the message's; they exist for the documented API.
        """
        message = self.message(message_id)
        if guild_id not in (None, message.guild_id) or channel_id not in (None, message.channel_id):
            raise EmulatorError(f"message {message_id} is not in that guild/channel")
        return await self._use_component(
            message, custom_id, None, bot_token, application_id, user_id=user_id
        )

    async def select(
        self,
        *,
        user_id: int,
        message_id: int,
        custom_id: str,
        values: Iterable[str],
        bot_token: str | None = None,
        application_id: int | None = None,
    ) -> Interaction:
        """A person picks values in a string select menu."""
        message = self.message(message_id)
        return await self._use_component(
            message, custom_id, list(values), bot_token, application_id, user_id=user_id
        )

    async def _use_component(
        self,
        message: Message,
        custom_id: str,
        values: list[str] | None,
        bot_token: str | None,
        application_id: int | None,
        *,
        user_id: int,
    ) -> Interaction:
        data = self._driver.component_data(message, custom_id, values)
        bot = self._driver.component_bot(message, bot_token, application_id)
        assert message.guild_id is not None  # every emulated channel belongs to a guild
        return await self._driver.dispatch(
            bot,
            COMPONENT,
            guild_id=message.guild_id,
            channel_id=message.channel_id,
            user_id=user_id,
            data=data,
            message=message,
        )

    async def wait_for_response(
        self,
        interaction: Interaction,
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented API mirrors asyncio.wait_for
    ) -> Interaction:
        """Wait for the callback and, after a defer, the follow-up or edit that completes it."""
        await self._state.notifier.wait_for(
            lambda: interaction.complete,
            timeout,
            f"a complete response to interaction {interaction.id} ({_describe(interaction)})",
        )
        return interaction

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented API mirrors asyncio.wait_for
        what: str = "condition",
    ) -> None:
        """Wait until `predicate()` holds: woken by every change, polled every 20 ms."""
        await self._state.notifier.wait_for(predicate, timeout, what)


def _describe(interaction: Interaction) -> str:
    if interaction.callback_type is None:
        return "no callback yet"
    return (
        f"callback type {interaction.callback_type}, {len(interaction.followups)} follow-up(s), "
        f"{interaction.original_edits} edit(s) of the original"
    )
