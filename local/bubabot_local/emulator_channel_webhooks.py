"""Channel webhooks: what a person creates in Channel settings → Integrations → Webhooks.

Their URL, ``/api/v10/webhooks/{webhook_id}/{token}``, is the only credential (no
Authorization header), and it shares its path with interaction webhooks (where the id is the
application's), so ``emulator_webhooks.WebhookApi`` hands a request here when its token is no
interaction's. What Discord does and the emulator does too:

* ``GET <url>``: the webhook object (``guild_id``, ``channel_id``), without the user.
* ``POST <url>?wait=true``: the message (author: the webhook, ``webhook_id`` set); without
  ``wait`` 204 and no body. The message limits (2000 characters, 10 embeds, 6000 in total)
  are checked as for any message. ``message_reference`` is ignored: a webhook cannot reply.
  ``components`` are dropped: only an application's webhook may send them.
* ``PATCH``/``GET``/``DELETE <url>/messages/{id}``: only that webhook's own messages
  (10008 Unknown Message otherwise).
* An unknown id, or a token that does not match: 404, code 10015 Unknown Webhook.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from aiohttp import web

from bubabot_local.emulator_http import API_PREFIX, json_response, no_content, read_body
from bubabot_local.emulator_interactions import check_limits
from bubabot_local.emulator_messages import Message, message_fields
from bubabot_local.emulator_state import ApiError, EmulatorState
from bubabot_local.emulator_world import JSON, User

_TRUTHY = frozenset({"1", "true", "True"})
INCOMING = 1  # webhook type: an incoming (channel) webhook


@dataclass(frozen=True)
class ChannelWebhook:
    """One channel webhook; ``url`` is what a person copies from Discord's settings."""

    id: int
    token: str
    guild_id: int
    channel_id: int
    name: str
    base_url: str

    @property
    def url(self) -> str:
        return f"{self.base_url}{API_PREFIX}/webhooks/{self.id}/{self.token}"

    @property
    def user(self) -> User:
        """The author its messages show (a webhook posts as a bot-flagged user of its id)."""
        return User(id=self.id, name=self.name, bot=True)

    def payload(self) -> JSON:
        """The webhook object as ``GET <url>`` returns it (no ``user`` with a token)."""
        return {"id": str(self.id), "type": INCOMING, "guild_id": str(self.guild_id),
                "channel_id": str(self.channel_id), "name": self.name, "avatar": None,
                "token": self.token, "application_id": None}


class ChannelWebhooks:
    """The channel webhooks that exist, and their routes' handlers."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self.hooks: dict[int, ChannelWebhook] = {}

    def create(self, channel_id: int, name: str) -> ChannelWebhook:
        guild, channel = self._state.find_channel(channel_id)
        hook = ChannelWebhook(id=self._state.ids.next(), token=secrets.token_urlsafe(51),
                              guild_id=guild.id, channel_id=channel.id, name=name,
                              base_url=self._state.base_url)
        self.hooks[hook.id] = hook
        return hook

    def owns(self, request: web.Request) -> bool:
        """True when the path names a channel webhook rather than an interaction."""
        if request.match_info["token"] in self._state.interactions_by_token:
            return False
        raw = request.match_info["app_id"]
        return raw.isdigit() and int(raw) in self.hooks

    def _hook(self, request: web.Request) -> ChannelWebhook:
        hook = self.hooks.get(int(request.match_info["app_id"]))
        if hook is None or not secrets.compare_digest(hook.token, request.match_info["token"]):
            raise ApiError(404, 10015, "Unknown Webhook")
        return hook

    def _message(self, request: web.Request) -> tuple[ChannelWebhook, Message]:
        hook = self._hook(request)
        ref = request.match_info["message_ref"]
        message = self._state.messages.get(int(ref)) if ref.isdigit() else None
        if message is None or message.deleted or message.webhook_id != hook.id:
            raise ApiError(404, 10008, "Unknown Message")
        return hook, message

    async def get_webhook(self, request: web.Request) -> web.Response:
        return json_response(self._hook(request).payload())

    async def execute(self, request: web.Request) -> web.Response:
        """POST <url>[?wait=true]: a message in the webhook's channel."""
        hook = self._hook(request)
        body, files = await read_body(request)
        fields = _webhook_fields(body)
        check_limits(fields)
        if not (fields.get("content") or fields.get("embeds") or files):
            raise ApiError(400, 50006, "Cannot send an empty message")
        message = self._state.create_message(hook.channel_id, hook.user, fields, files,
                                             attachment_specs=body.get("attachments"),
                                             webhook_id=hook.id)
        if request.query.get("wait") in _TRUTHY:
            return json_response(message.payload())
        return no_content()

    async def get_message(self, request: web.Request) -> web.Response:
        _hook, message = self._message(request)
        return json_response(message.payload())

    async def edit_message(self, request: web.Request) -> web.Response:
        """PATCH <url>/messages/{id}: only keys present change, as for any edit."""
        _hook, message = self._message(request)
        body, files = await read_body(request)
        fields = _webhook_fields(body)
        check_limits(fields)
        self._state.edit_message(message, fields, files,
                                 attachment_specs=body.get("attachments"))
        return json_response(message.payload())

    async def delete_message(self, request: web.Request) -> web.Response:
        _hook, message = self._message(request)
        self._state.delete_message(message)
        return no_content()


def _webhook_fields(body: JSON) -> JSON:
    """A message body as a channel webhook may send it: no reply, no components."""
    fields = message_fields(body)
    fields.pop("reference_id", None)
    fields.pop("components", None)
    return fields

