"""Interaction callbacks and interaction webhooks (follow-ups, `@original`).

Channel webhooks share the `/webhooks/{id}/{token}` paths; a request whose token is no
interaction's goes to `emulator_channel_webhooks`.

These routes carry no Authorization header: the interaction token is the credential, as on
Discord. Pitfall 2: the callback must answer with the `with_response` JSON, or discord.py
raises inside the command and Views sent with the response never dispatch.
"""

from __future__ import annotations

from aiohttp import web

from bubabot_local.emulator_channel_webhooks import ChannelWebhooks
from bubabot_local.emulator_http import API_PREFIX, json_response, no_content, read_body
from bubabot_local.emulator_interactions import (
    apply_callback,
    edit_webhook_message,
    post_followup,
    webhook_message,
)
from bubabot_local.emulator_messages import Interaction, message_fields
from bubabot_local.emulator_state import ApiError, EmulatorState

_TRUTHY = frozenset({"1", "true", "True"})


class WebhookApi:
    """Handlers keyed by interaction id/token."""

    def __init__(self, state: EmulatorState, channel_hooks: ChannelWebhooks) -> None:
        self._state = state
        self._channel_hooks = channel_hooks

    def routes(self) -> list[web.RouteDef]:
        """Callback, follow-up and webhook-message routes."""
        hook = API_PREFIX + "/webhooks/{app_id}/{token}"
        message = hook + "/messages/{message_ref}"
        return [
            web.post(API_PREFIX + "/interactions/{interaction_id}/{token}/callback", self.callback),
            web.get(hook, self.get_webhook),
            web.post(hook, self.post_followup),
            web.get(message, self.get_message),
            web.patch(message, self.patch_message),
            web.delete(message, self.delete_message),
        ]

    def _interaction(self, request: web.Request) -> Interaction:
        record = self._state.interactions_by_token.get(request.match_info["token"])
        if record is None or str(record.application_id) != request.match_info["app_id"]:
            raise ApiError(404, 10015, "Unknown Webhook")
        return record

    async def callback(self, request: web.Request) -> web.Response:
        """POST /interactions/{id}/{token}/callback[?with_response=1]."""
        record = self._state.interactions.get(int(request.match_info["interaction_id"]))
        if record is None or record.token != request.match_info["token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        body, files = await read_body(request)
        response = apply_callback(self._state, record, body, files)
        if request.query.get("with_response") in _TRUTHY:
            return json_response(response)
        return no_content()

    async def get_webhook(self, request: web.Request) -> web.Response:
        """GET /webhooks/{id}/{token}: only channel webhooks answer it."""
        if not self._channel_hooks.owns(request):
            raise ApiError(404, 10015, "Unknown Webhook")
        return await self._channel_hooks.get_webhook(request)

    async def post_followup(self, request: web.Request) -> web.Response:
        """POST /webhooks/{app}/{token}?wait=1: a follow-up message (or a channel webhook's)."""
        if self._channel_hooks.owns(request):
            return await self._channel_hooks.execute(request)
        record = self._interaction(request)
        body, files = await read_body(request)
        fields = message_fields(body)
        if "attachments" in body:
            fields["attachments"] = body["attachments"]
        message = post_followup(self._state, record, fields, files)
        if request.query.get("wait") in _TRUTHY:
            return json_response(message.payload())
        return no_content()

    async def get_message(self, request: web.Request) -> web.Response:
        """GET /webhooks/{app}/{token}/messages/{@original|id}."""
        if self._channel_hooks.owns(request):
            return await self._channel_hooks.get_message(request)
        record = self._interaction(request)
        message = webhook_message(record, request.match_info["message_ref"])
        return json_response(message.payload())

    async def patch_message(self, request: web.Request) -> web.Response:
        """PATCH: edit the original response or a follow-up (or a channel webhook's message)."""
        if self._channel_hooks.owns(request):
            return await self._channel_hooks.edit_message(request)
        record = self._interaction(request)
        body, files = await read_body(request)
        fields = message_fields(body)
        if "attachments" in body:
            fields["attachments"] = body["attachments"]
        message = edit_webhook_message(
            self._state, record, request.match_info["message_ref"], fields, files
        )
        return json_response(message.payload())

    async def delete_message(self, request: web.Request) -> web.Response:
        """DELETE: remove the original response or a follow-up (or a webhook's message)."""
        if self._channel_hooks.owns(request):
            return await self._channel_hooks.delete_message(request)
        record = self._interaction(request)
        message = webhook_message(record, request.match_info["message_ref"])
        self._state.delete_message(message)
        return no_content()
