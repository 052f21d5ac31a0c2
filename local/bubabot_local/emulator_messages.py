"""Messages, attachments and interactions as the emulator stores and renders them.

These are the things tests observe: what ended up in a channel (edits applied), what each
interaction answered and how fast.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bubabot_local.emulator_world import JSON, User, iso, utc_now

EPHEMERAL = 1 << 6
LOADING = 1 << 7

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_EVERYONE_MENTION = re.compile(r"@(everyone|here)")


@dataclass
class Attachment:
    """An uploaded file, bytes kept so tests can read what a bot attached."""

    id: int
    filename: str
    data: bytes = field(repr=False)
    content_type: str
    url: str
    description: str | None = None

    @property
    def text(self) -> str:
        """The file decoded as UTF-8 (excerpts and reports are text)."""
        return self.data.decode("utf-8")

    def payload(self) -> JSON:
        """Attachment object; discord.py needs id, size, filename, url and proxy_url."""
        return {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
            "description": self.description,
        }


@dataclass(frozen=True)
class MessageRevision:
    """What a message looked like before one edit."""

    content: str
    embeds: tuple[JSON, ...]
    components: tuple[JSON, ...]
    flags: int


@dataclass
class Message:
    """A message in a channel: the current state plus the revisions it went through."""

    id: int
    channel_id: int
    guild_id: int | None
    author: User
    content: str = ""
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    tts: bool = False
    allowed_mentions: JSON | None = None
    mentions: list[User] = field(default_factory=list)
    mention_role_ids: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    reference_id: int | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: JSON | None = None
    created_at: datetime = field(default_factory=utc_now)
    edited_at: datetime | None = None
    revisions: list[MessageRevision] = field(default_factory=list)
    deleted: bool = False
    pinned: bool = False

    @property
    def edit_count(self) -> int:
        """How many times the message was edited after it was created."""
        return len(self.revisions)

    @property
    def ephemeral(self) -> bool:
        """Only the invoking user would see it on Discord."""
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """A deferred "Bot is thinking…" placeholder not yet filled in."""
        return bool(self.flags & LOADING)

    def custom_ids(self) -> list[str]:
        """Every component custom_id on the message, in row order."""
        found: list[str] = []
        for row in self.components:
            for item in row.get("components", []):
                if "custom_id" in item:
                    found.append(str(item["custom_id"]))
        return found

    def component(self, custom_id: str) -> JSON | None:
        """The component with this custom_id, if the message still has one."""
        for row in self.components:
            for item in row.get("components", []):
                if item.get("custom_id") == custom_id:
                    return dict(item)
        return None

    def remember_revision(self) -> None:
        """Snapshot the current state before an edit changes it."""
        self.revisions.append(
            MessageRevision(
                content=self.content,
                embeds=tuple(self.embeds),
                components=tuple(self.components),
                flags=self.flags,
            )
        )
        self.edited_at = utc_now()

    def payload(self) -> JSON:
        """Message object with every key discord.py's `Message` reads."""
        data: JSON = {
            "id": str(self.id),
            "type": self.type,
            "channel_id": str(self.channel_id),
            "author": self.author.payload(),
            "content": self.content,
            "embeds": list(self.embeds),
            "components": list(self.components),
            "attachments": [attachment.payload() for attachment in self.attachments],
            "timestamp": iso(self.created_at),
            "edited_timestamp": iso(self.edited_at),
            "flags": self.flags,
            "mentions": [user.payload() for user in self.mentions],
            "mention_roles": [str(role_id) for role_id in self.mention_role_ids],
            "mention_everyone": self.mention_everyone,
            "pinned": self.pinned,
            "tts": self.tts,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            data["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            data["interaction_metadata"] = self.interaction_metadata
        if self.reference_id is not None:
            data["message_reference"] = {
                "type": 0,
                "message_id": str(self.reference_id),
                "channel_id": str(self.channel_id),
            }
        return data


def resolve_mentions(
    content: str, allowed: JSON | None, users: Mapping[int, User]
) -> tuple[list[User], list[int], bool]:
    """Who a message pings, honouring `allowed_mentions` as Discord does.

    Returns (mentioned users, mentioned role ids, whether @everyone/@here pings). With no
    `allowed_mentions` every mention in the content pings.
    """
    parse = {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse", []))
    explicit_users = {int(x) for x in (allowed or {}).get("users", [])}
    explicit_roles = {int(x) for x in (allowed or {}).get("roles", [])}

    user_ids = [int(x) for x in _USER_MENTION.findall(content)]
    role_ids = [int(x) for x in _ROLE_MENTION.findall(content)]
    pinged_users = [
        users[user_id]
        for user_id in dict.fromkeys(user_ids)
        if user_id in users and ("users" in parse or user_id in explicit_users)
    ]
    pinged_roles = [
        role_id
        for role_id in dict.fromkeys(role_ids)
        if "roles" in parse or role_id in explicit_roles
    ]
    everyone = "everyone" in parse and bool(_EVERYONE_MENTION.search(content))
    return pinged_users, pinged_roles, everyone


@dataclass
class Interaction:
    """One interaction the emulator dispatched and everything the bot answered to it."""

    id: int
    token: str = field(repr=False)
    type: int  # 2 slash command, 3 component, 4 autocomplete
    application_id: int
    bot_user_id: int
    guild_id: int
    channel_id: int
    user_id: int
    data: JSON
    dispatched_at: float  # time.monotonic()
    message_id: int | None = None  # the message a component sits on
    callback_type: int | None = None
    callback_data: JSON | None = None
    callback_at: float | None = None
    original: Message | None = None
    followups: list[Message] = field(default_factory=list)
    original_edits: int = 0
    message_edits_after_callback: int = 0  # component message edited via the channel route
    ephemeral: bool = False

    @property
    def responded(self) -> bool:
        """The bot acknowledged the interaction (any callback type)."""
        return self.callback_type is not None

    @property
    def deferred(self) -> bool:
        """The callback was a defer (5 deferred message, 6 deferred update)."""
        return self.callback_type in (5, 6)

    @property
    def latency(self) -> float | None:
        """Seconds from dispatch to the callback (Discord allows 3)."""
        if self.callback_at is None:
            return None
        return self.callback_at - self.dispatched_at

    @property
    def complete(self) -> bool:
        """The user sees a final answer: a message, an update, choices, or a filled defer."""
        if self.callback_type is None:
            return False
        if not self.deferred:
            return True
        followed_up = bool(self.followups) or self.original_edits > 0
        return followed_up or self.message_edits_after_callback > 0

    @property
    def choices(self) -> list[JSON]:
        """Autocomplete choices from a type 8 callback."""
        return list((self.callback_data or {}).get("choices", []))

    def messages(self) -> list[Message]:
        """The original response (if any) followed by follow-ups, without duplicates."""
        found: list[Message] = []
        for message in [self.original, *self.followups]:
            if message is not None and all(message is not seen for seen in found):
                found.append(message)
        return found


def message_fields(payload: Mapping[str, Any]) -> JSON:
    """The keys of a create/edit body that change a message (others are ignored)."""
    keys = ("content", "embeds", "components", "flags", "tts", "allowed_mentions")
    fields = {key: payload[key] for key in keys if key in payload}
    reference = payload.get("message_reference")
    if isinstance(reference, Mapping) and reference.get("message_id") is not None:
        fields["reference_id"] = int(reference["message_id"])
    return fields
