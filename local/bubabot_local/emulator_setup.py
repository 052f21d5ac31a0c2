"""Setting the emulated world up: guilds, channels, roles, members, bots, old messages.

Set the world up before bots connect: GUILD_CREATE carries it, and later changes are not
pushed as gateway events (interactions always carry the member's current roles).
"""

from __future__ import annotations

from collections.abc import Iterable

from bubabot_local.emulator_channel_webhooks import ChannelWebhook
from bubabot_local.emulator_messages import Message
from bubabot_local.emulator_server import EmulatorServer
from bubabot_local.emulator_state import EmulatorError
from bubabot_local.emulator_world import (
    DEFAULT_EVERYONE_PERMISSIONS,
    JSON,
    BotAccount,
    Channel,
    Guild,
    Member,
    Role,
    User,
)


class WorldSetup(EmulatorServer):
    """The guilds, people and bots a test or local mode starts from."""

    def add_guild(self, guild_id: int, name: str = "Remi HQ", owner_id: int | None = None) -> Guild:
        """A guild with its @everyone role (id = guild id)."""
        guild = Guild(id=guild_id, name=name, owner_id=owner_id)
        guild.roles[guild_id] = Role(
            id=guild_id,
            guild_id=guild_id,
            name="@everyone",
            position=0,
            permissions=DEFAULT_EVERYONE_PERMISSIONS,
            mentionable=False,
        )
        self._state.guilds[guild_id] = guild
        return guild

    def add_channel(self, guild_id: int, channel_id: int, name: str) -> Channel:
        """A text channel (type 0)."""
        guild = self._driver.guild(guild_id)
        channel = Channel(id=channel_id, guild_id=guild_id, name=name, position=len(guild.channels))
        guild.channels[channel_id] = channel
        return channel

    def add_role(self, guild_id: int, role_id: int, name: str, permissions: int = 0) -> Role:
        """A role members can have (access checks use role ids)."""
        guild = self._driver.guild(guild_id)
        role = Role(
            id=role_id,
            guild_id=guild_id,
            name=name,
            position=len(guild.roles),
            permissions=permissions,
        )
        guild.roles[role_id] = role
        return role

    def add_member(
        self, guild_id: int, user_id: int, name: str, role_ids: Iterable[int] = ()
    ) -> Member:
        """A person in the guild; they can invoke commands and click buttons."""
        guild = self._driver.guild(guild_id)
        roles = list(role_ids)
        unknown = [role_id for role_id in roles if role_id not in guild.roles]
        if unknown:
            raise EmulatorError(f"guild {guild_id} has no role(s) {unknown}")
        member = Member(guild_id=guild_id, user=User(id=user_id, name=name), role_ids=roles)
        guild.members[user_id] = member
        return member

    def set_member_roles(self, guild_id: int, user_id: int, role_ids: Iterable[int]) -> None:
        """Change a member's roles (the next interaction carries them)."""
        self._driver.guild(guild_id).members[user_id].role_ids = list(role_ids)

    def add_bot(
        self,
        token: str,
        user_id: int,
        name: str,
        application_id: int | None = None,
        guild_ids: Iterable[int] | None = None,
        *,
        privileged_intents_enabled: bool = True,
    ) -> BotAccount:
        """A bot token REST and the gateway accept; the bot is in all guilds by default."""
        bot = BotAccount(
            token=token,
            user=User(id=user_id, name=name, bot=True),
            application_id=application_id or user_id,
            guild_ids=None if guild_ids is None else set(guild_ids),
            privileged_intents_enabled=privileged_intents_enabled,
        )
        self._state.bots[token] = bot
        return bot

    def add_message(
        self,
        channel_id: int,
        author_id: int,
        content: str = "",
        *,
        embeds: Iterable[JSON] = (),
        components: Iterable[JSON] = (),
    ) -> Message:
        """A message already in the channel, e.g. an alert posted before a bot restart."""
        author = self._state.users().get(author_id)
        if author is None:
            raise EmulatorError(f"unknown author {author_id}: add them as a member or bot first")
        fields: JSON = {"content": content, "embeds": list(embeds), "components": list(components)}
        if not any(channel_id in guild.channels for guild in self._state.guilds.values()):
            raise EmulatorError(f"no channel {channel_id}: call add_channel first")
        bot = self._state.bot_for_user(author_id)
        application_id = None if bot is None else bot.application_id
        return self._state.create_message(channel_id, author, fields, application_id=application_id)

    def add_channel_webhook(self, channel_id: int, name: str = "Bubabot alerts") -> ChannelWebhook:
        """A webhook for ``channel_id``, as a person creates one in the channel's settings;
        its ``url`` is what ``DISCORD_WEBHOOK_URL`` holds."""
        return self._channel_hooks.create(channel_id, name)
