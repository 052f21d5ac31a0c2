"""The emulated Discord world: guilds, channels, roles, members and bot accounts.

Each class knows how to render itself as the JSON payload discord.py 2.7.1 parses, so the
payload shapes live in one place (see /work/shared/reference/discord.md for the required keys).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000
GUILD_TEXT = 0
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
THREAD_TYPES = frozenset({10, PUBLIC_THREAD, PRIVATE_THREAD})

# What @everyone may do in a fresh guild: view, send, embed, attach, read history, use app
# commands, create public threads, send in threads. Tests rarely care; discord.py computes
# guild.me.guild_permissions from it.
DEFAULT_EVERYONE_PERMISSIONS = (
    (1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 31) | (1 << 35) | (1 << 38)
)
# Bots usually get a generous role; the interaction's app_permissions uses this value.
BOT_APP_PERMISSIONS = (1 << 41) - 1

# Privileged gateway intents: GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT.
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)


def utc_now() -> datetime:
    """Aware UTC now: the one wall-clock read used for message timestamps."""
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """Discord's ISO-8601 timestamp form (what `discord.utils.parse_time` reads)."""
    return None if moment is None else moment.isoformat()


class SnowflakeFactory:
    """Realistic, strictly increasing 19-digit snowflakes (ms since the Discord epoch << 22).

    Real ids make `discord.utils.snowflake_time` and sorting by id behave as on Discord.
    """

    def __init__(self) -> None:
        self._last = 0
        self._increment = itertools.count()

    def next(self) -> int:
        """Return a fresh id, larger than every id returned before."""
        elapsed_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = (elapsed_ms << 22) | (1 << 17) | (next(self._increment) & 0xFFF)
        self._last = max(candidate, self._last + 1)
        return self._last


@dataclass
class User:
    """A Discord user (people and bots alike)."""

    id: int
    name: str
    bot: bool = False

    def payload(self) -> JSON:
        """User object; `discriminator` "0" is what pomelo (new-style) usernames carry."""
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class Role:
    """A guild role; the @everyone role has the guild's id."""

    id: int
    guild_id: int
    name: str
    position: int = 1
    permissions: int = 0
    mentionable: bool = True

    def payload(self) -> JSON:
        """Role object."""
        return {
            "id": str(self.id),
            "name": self.name,
            "position": self.position,
            "permissions": str(self.permissions),
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": False,
            "mentionable": self.mentionable,
            "flags": 0,
        }


@dataclass
class Channel:
    """A guild text channel (type 0) or a thread (type 11/12, with `parent_id`)."""

    id: int
    guild_id: int
    name: str
    type: int = GUILD_TEXT
    position: int = 0
    parent_id: int | None = None
    owner_id: int | None = None
    topic: str | None = None
    created_at: datetime = field(default_factory=utc_now)
    auto_archive_duration: int = 1440

    @property
    def is_thread(self) -> bool:
        """Threads carry thread metadata and a parent channel."""
        return self.type in THREAD_TYPES

    def payload(self, message_count: int = 0) -> JSON:
        """Channel object as GUILD_CREATE, GET /channels/{id} and interactions carry it."""
        data: JSON = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "parent_id": None if self.parent_id is None else str(self.parent_id),
            "permission_overwrites": [],
            "nsfw": False,
            "topic": self.topic,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
            "permissions": str(BOT_APP_PERMISSIONS),
        }
        if self.is_thread:
            data.update(
                owner_id=str(self.owner_id or 0),
                message_count=message_count,
                member_count=1,
                total_message_sent=message_count,
                thread_metadata={
                    "archived": False,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": iso(self.created_at),
                    "locked": False,
                    "create_timestamp": iso(self.created_at),
                },
            )
        return data


@dataclass
class Member:
    """A user's membership in one guild, with role ids."""

    guild_id: int
    user: User
    role_ids: list[int] = field(default_factory=list)
    joined_at: datetime = field(default_factory=utc_now)

    def payload(self, *, with_user: bool = True, permissions: int | None = None) -> JSON:
        """Member object; interactions add `permissions`, resolved data drops `user`."""
        data: JSON = {
            "roles": [str(role_id) for role_id in self.role_ids],
            "joined_at": iso(self.joined_at),
            "flags": 0,
            "deaf": False,
            "mute": False,
            "nick": None,
            "avatar": None,
            "pending": False,
        }
        if with_user:
            data["user"] = self.user.payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class Guild:
    """A guild with its channels (threads included), roles and human members."""

    id: int
    name: str
    owner_id: int | None = None
    channels: dict[int, Channel] = field(default_factory=dict)
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)

    def member_permissions(self, member: Member) -> int:
        """OR of @everyone and the member's roles, as Discord puts in `member.permissions`."""
        value = self.roles[self.id].permissions if self.id in self.roles else 0
        for role_id in member.role_ids:
            role = self.roles.get(role_id)
            if role is not None:
                value |= role.permissions
        return value


@dataclass
class BotAccount:
    """A bot token the REST API and the gateway accept, with what it did on the gateway."""

    token: str = field(repr=False)
    user: User
    application_id: int
    guild_ids: set[int] | None = None  # None: the bot is in every guild
    privileged_intents_enabled: bool = True
    ack_heartbeats: bool = True
    identify_count: int = 0
    resume_count: int = 0
    heartbeat_count: int = 0
    last_heartbeat_at: float | None = None  # time.monotonic()
    presence: JSON | None = None

    def sees_guild(self, guild_id: int) -> bool:
        """Whether the bot is a member of the guild."""
        return self.guild_ids is None or guild_id in self.guild_ids


@dataclass(frozen=True)
class RecordedRequest:
    """One REST request as the emulator received it (Authorization header removed)."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    status: int
    at: float  # time.monotonic()

    @property
    def text(self) -> str:
        """The body decoded leniently, for grepping."""
        return self.body.decode("utf-8", errors="replace")

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)
