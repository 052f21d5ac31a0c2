"""The emulator's shared state: the world, messages, interactions, commands and faults.

The REST routes and the gateway both read and change this one object; every change calls
`notify()` so `wait_for` wakes at once instead of only on its 20 ms poll (pitfall 7).
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bubabot_local.emulator_messages import (
    EPHEMERAL,
    LOADING,
    Attachment,
    Interaction,
    Message,
    resolve_mentions,
)
from bubabot_local.emulator_world import (
    JSON,
    BotAccount,
    Channel,
    Guild,
    RecordedRequest,
    SnowflakeFactory,
    User,
)

POLL_INTERVAL_S = 0.02


class EmulatorError(Exception):
    """A test or the local console asked the emulator for something that cannot happen."""


class EmulatorTimeout(EmulatorError, TimeoutError):
    """What a test waited for did not happen in time."""


class ApiError(Exception):
    """A REST error response, rendered as Discord's JSON error body."""

    def __init__(self, status: int, code: int, message: str, body: JSON | None = None) -> None:
        super().__init__(f"{status} {message} (code {code})")
        self.status = status
        self.code = code
        self.body: JSON = body or {"code": code, "message": message}


@dataclass(frozen=True)
class UploadedFile:
    """One `files[N]` part of a multipart body."""

    index: int
    filename: str
    data: bytes


@dataclass
class FaultRule:
    """Answer the next `remaining` matching REST requests with `status`."""

    remaining: int
    status: int
    retry_after: float
    route_prefix: str | None
    global_limit: bool = False  # a 429 of the global limit (every route), not a bucket's

    def matches(self, api_path: str) -> bool:
        """`api_path` is the path after /api/v10, e.g. /channels/1/messages."""
        return self.route_prefix is None or api_path.startswith(self.route_prefix)


class ChangeNotifier:
    """Wakes waiters on every state change; they also poll, for predicates over other state."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def notify(self) -> None:
        """Wake every current waiter."""
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait_for(
        self, predicate: Callable[[], bool], within_s: float, what: str = "condition"
    ) -> None:
        """Return once `predicate()` is true; raise `EmulatorTimeout` after `within_s`."""
        deadline = time.monotonic() + within_s
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EmulatorTimeout(f"timed out after {within_s:.2f}s waiting for {what}")
            if self._event is None:
                self._event = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), min(POLL_INTERVAL_S, remaining))


@dataclass
class EmulatorState:
    """Everything the emulated Discord knows."""

    ids: SnowflakeFactory = field(default_factory=SnowflakeFactory)
    guilds: dict[int, Guild] = field(default_factory=dict)
    bots: dict[str, BotAccount] = field(default_factory=dict, repr=False)
    messages: dict[int, Message] = field(default_factory=dict)
    channel_messages: dict[int, list[int]] = field(default_factory=dict)
    attachments: dict[int, Attachment] = field(default_factory=dict)
    interactions: dict[int, Interaction] = field(default_factory=dict)
    interactions_by_token: dict[str, Interaction] = field(default_factory=dict, repr=False)
    commands: dict[tuple[int, int | None], list[JSON]] = field(default_factory=dict)
    sync_counts: dict[tuple[int, int | None], int] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    unhandled: list[RecordedRequest] = field(default_factory=list)
    faults: list[FaultRule] = field(default_factory=list)
    outage: bool = False
    refused_gateway_connects: int = 0
    base_url: str = ""
    ack_deadline_s: float | None = None
    notifier: ChangeNotifier = field(default_factory=ChangeNotifier)

    def notify(self) -> None:
        """Record that something changed."""
        self.notifier.notify()

    # --- lookups -------------------------------------------------------------------------

    def find_channel(self, channel_id: int) -> tuple[Guild, Channel]:
        """The channel (or thread) and its guild; 404 Unknown Channel otherwise."""
        for guild in self.guilds.values():
            channel = guild.channels.get(channel_id)
            if channel is not None:
                return guild, channel
        raise ApiError(404, 10003, "Unknown Channel")

    def find_message(self, channel_id: int, message_id: int) -> Message:
        """A live message of that channel; 404 Unknown Message otherwise."""
        message = self.messages.get(message_id)
        if message is None or message.deleted or message.channel_id != channel_id:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    def bot_for_application(self, application_id: int) -> BotAccount:
        """The bot whose application id this is."""
        for bot in self.bots.values():
            if bot.application_id == application_id:
                return bot
        raise EmulatorError(f"no bot with application id {application_id}")

    def bot_for_user(self, user_id: int) -> BotAccount | None:
        """The bot account of a user id, if it is a bot."""
        return next((bot for bot in self.bots.values() if bot.user.id == user_id), None)

    def users(self) -> dict[int, User]:
        """Every known user: guild members and bots."""
        known: dict[int, User] = {bot.user.id: bot.user for bot in self.bots.values()}
        for guild in self.guilds.values():
            known.update({member.user.id: member.user for member in guild.members.values()})
        return known

    def channel_history(self, channel_id: int, *, include_ephemeral: bool) -> list[Message]:
        """Live messages of a channel, oldest first."""
        found = [self.messages[mid] for mid in self.channel_messages.get(channel_id, [])]
        return [m for m in found if not m.deleted and (include_ephemeral or not m.ephemeral)]

    # --- faults --------------------------------------------------------------------------

    def take_fault(self, api_path: str) -> FaultRule | None:
        """Consume one injected failure that applies to this request, if any."""
        for rule in self.faults:
            if rule.remaining > 0 and rule.matches(api_path):
                rule.remaining -= 1
                if rule.remaining == 0:
                    self.faults.remove(rule)
                return rule
        return None

    # --- messages ------------------------------------------------------------------------

    def create_message(
        self,
        channel_id: int,
        author: User,
        fields: Mapping[str, Any],
        files: Iterable[UploadedFile] = (),
        *,
        attachment_specs: list[JSON] | None = None,
        **extra: Any,
    ) -> Message:
        """Store a new message (Discord assigns id and timestamp) and return it."""
        guild, _channel = self.find_channel(channel_id)
        message = Message(
            id=self.ids.next(), channel_id=channel_id, guild_id=guild.id, author=author
        )
        for key, value in extra.items():
            setattr(message, key, value)
        message.flags |= int(fields.get("flags") or 0)
        self._apply_fields(message, fields)
        message.attachments = self._attachments_for(message, list(files), attachment_specs)
        self.messages[message.id] = message
        self.channel_messages.setdefault(channel_id, []).append(message.id)
        self.notify()
        return message

    def edit_message(
        self,
        message: Message,
        fields: Mapping[str, Any],
        files: Iterable[UploadedFile] = (),
        *,
        attachment_specs: list[JSON] | None = None,
    ) -> Message:
        """Apply an edit body: only keys present change; the old state becomes a revision.

        Filling a deferred "thinking" placeholder is not an edit anyone sees, so it keeps no
        revision.
        """
        if not message.loading:
            message.remember_revision()
        if "flags" in fields:
            # An edit cannot make a message ephemeral (or not); keep that bit.
            kept = message.flags & EPHEMERAL
            message.flags = (int(fields["flags"] or 0) & ~EPHEMERAL) | kept
        message.flags &= ~LOADING  # editing a deferred placeholder fills it in
        self._apply_fields(message, fields)
        uploads = list(files)
        if attachment_specs is not None or uploads:
            message.attachments = self._attachments_for(message, uploads, attachment_specs)
        self.notify()
        return message

    def delete_message(self, message: Message) -> None:
        """Mark a message deleted; it disappears from `channel_history`."""
        message.deleted = True
        self.notify()

    def _apply_fields(self, message: Message, fields: Mapping[str, Any]) -> None:
        for key in ("content", "embeds", "components", "tts", "allowed_mentions", "reference_id"):
            if key in fields:
                value = fields[key]
                setattr(message, key, value if value is not None else _EMPTY[key])
        if "content" in fields or "allowed_mentions" in fields:
            users, roles, everyone = resolve_mentions(
                message.content, message.allowed_mentions, self.users()
            )
            message.mentions, message.mention_role_ids, message.mention_everyone = (
                users,
                roles,
                everyone,
            )

    def _attachments_for(
        self, message: Message, uploads: list[UploadedFile], specs: list[JSON] | None
    ) -> list[Attachment]:
        """Resolve `attachments` entries: existing ids stay, small ints name `files[N]`."""
        by_index = {upload.index: upload for upload in uploads}
        if specs is None:
            kept = list(message.attachments)
            return kept + [self._store_upload(message, u, None) for u in uploads]
        existing = {attachment.id: attachment for attachment in message.attachments}
        result: list[Attachment] = []
        for spec in specs:
            ref = int(spec.get("id", -1))
            if ref in existing:
                result.append(existing[ref])
            elif ref in by_index:
                result.append(self._store_upload(message, by_index[ref], spec.get("description")))
        return result

    def _store_upload(
        self, message: Message, upload: UploadedFile, description: str | None
    ) -> Attachment:
        attachment_id = self.ids.next()
        content_type = mimetypes.guess_type(upload.filename)[0] or "application/octet-stream"
        url = f"{self.base_url}/attachments/{message.channel_id}/{attachment_id}/{upload.filename}"
        attachment = Attachment(
            id=attachment_id,
            filename=upload.filename,
            data=upload.data,
            content_type=content_type,
            url=url,
            description=description,
        )
        self.attachments[attachment_id] = attachment
        return attachment


_EMPTY: dict[str, Any] = {
    "content": "",
    "embeds": [],
    "components": [],
    "tts": False,
    "allowed_mentions": None,
    "reference_id": None,
}
