"""The emulated REST API (prefix /api/v10): login, gateway discovery, commands, channels.

Interaction callbacks and webhook (follow-up) routes live in `emulator_webhooks`. Every
request under /api/ goes through `middleware`, which records it, applies an outage or an
injected failure, and turns `ApiError` into Discord's JSON error body.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from bubabot_local.emulator_http import (
    API_PREFIX,
    bot_from_request,
    fault_response,
    json_response,
    no_content,
    outage_response,
    read_body,
)
from bubabot_local.emulator_interactions import check_limits
from bubabot_local.emulator_limits import command_problems, error_body
from bubabot_local.emulator_messages import Message, message_fields
from bubabot_local.emulator_state import ApiError, EmulatorState
from bubabot_local.emulator_world import (
    JSON,
    PUBLIC_THREAD,
    BotAccount,
    Channel,
    Guild,
    RecordedRequest,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Broadcast = Callable[[int, str, JSON], Awaitable[None]]
UNHANDLED_ROUTE = "unhandled"
HISTORY_LIMIT_MAX = 100


class RestApi:
    """REST handlers over the shared state; `gateway_url` is read when asked for."""

    def __init__(
        self, state: EmulatorState, gateway_url: Callable[[], str], broadcast: Broadcast
    ) -> None:
        self._state = state
        self._gateway_url = gateway_url
        self._broadcast = broadcast

    def routes(self) -> list[web.RouteDef]:
        """Account, gateway, command and channel routes."""
        p = API_PREFIX
        commands = p + "/applications/{app_id}/commands"
        guild_commands = p + "/applications/{app_id}/guilds/{guild_id}/commands"
        message = p + "/channels/{channel_id}/messages/{message_id}"
        return [
            web.get(p + "/users/@me", self.get_me),
            web.get(p + "/oauth2/applications/@me", self.get_application),
            web.get(p + "/applications/@me", self.get_application),
            web.get(p + "/gateway", self.get_gateway),
            web.get(p + "/gateway/bot", self.get_gateway_bot),
            web.put(commands, self.put_commands),
            web.get(commands, self.get_commands),
            web.put(guild_commands, self.put_commands),
            web.get(guild_commands, self.get_commands),
            web.get(p + "/channels/{channel_id}", self.get_channel),
            web.get(p + "/channels/{channel_id}/messages", self.get_history),
            web.post(p + "/channels/{channel_id}/messages", self.post_message),
            web.get(message, self.get_message),
            web.patch(message, self.patch_message),
            web.delete(message, self.delete_message),
            web.post(message + "/threads", self.post_thread_from_message),
            web.post(p + "/channels/{channel_id}/threads", self.post_thread),
            web.post(p + "/channels/{channel_id}/typing", self.post_typing),
            web.get(p + "/guilds/{guild_id}/channels", self.get_guild_channels),
            web.get(p + "/guilds/{guild_id}/roles", self.get_guild_roles),
            web.get(p + "/guilds/{guild_id}/members/{user_id}", self.get_member),
            web.get("/attachments/{channel_id}/{attachment_id}/{filename}", self.get_attachment),
        ]

    @staticmethod
    def fallback_route() -> web.RouteDef:
        """Anything else under /api/: 404, and remembered in `state.unhandled`."""
        return web.route("*", API_PREFIX + "/{tail:.*}", _unknown_route, name=UNHANDLED_ROUTE)

    # --- middleware ----------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Record, fail on purpose, or answer; Discord-style errors for `ApiError`."""
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        body = await request.read()
        api_path = request.path[len(API_PREFIX) :]
        response = await self._answer(request, handler, api_path)
        headers = tuple((k, v) for k, v in request.headers.items() if k.lower() != "authorization")
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=request.query_string,
            headers=headers,
            body=body,
            status=response.status,
            at=time.monotonic(),
        )
        self._state.requests.append(record)
        if request.match_info.route.name == UNHANDLED_ROUTE:
            self._state.unhandled.append(record)
        self._state.notify()
        return response

    async def _answer(
        self, request: web.Request, handler: Handler, api_path: str
    ) -> web.StreamResponse:
        if self._state.outage:
            return outage_response()
        fault = self._state.take_fault(api_path)
        if fault is not None:
            return fault_response(fault, request.method, api_path)
        try:
            return await handler(request)
        except ApiError as error:
            return json_response(error.body, error.status)

    # --- login and gateway discovery -----------------------------------------------------

    async def get_me(self, request: web.Request) -> web.Response:
        """GET /users/@me: what `client.login()` checks the token with."""
        bot = bot_from_request(self._state, request)
        return json_response({**bot.user.payload(), "verified": True, "mfa_enabled": False})

    async def get_application(self, request: web.Request) -> web.Response:
        """GET /oauth2/applications/@me: sets `client.application_id` (needed by sync)."""
        bot = bot_from_request(self._state, request)
        owner = {"id": "1", "username": "owner", "discriminator": "0", "avatar": None}
        guild_count = sum(bot.sees_guild(g) for g in self._state.guilds)
        return json_response(
            {
                "id": str(bot.application_id),
                "name": bot.user.name,
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": owner,
                "verify_key": "0" * 64,
                "flags": 0,
                "bot": bot.user.payload(),
                "team": None,
                "interactions_endpoint_url": None,
                "approximate_guild_count": guild_count,
            }
        )

    async def get_gateway(self, request: web.Request) -> web.Response:
        """GET /gateway."""
        return json_response({"url": self._gateway_url()})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        """GET /gateway/bot (AutoShardedClient), with a session-start budget."""
        bot = bot_from_request(self._state, request)
        limit = {
            "total": 1000,
            "remaining": max(0, 1000 - bot.identify_count),
            "reset_after": 86_400_000,
            "max_concurrency": 1,
        }
        return json_response(
            {"url": self._gateway_url(), "shards": 1, "session_start_limit": limit}
        )

    # --- application commands ------------------------------------------------------------

    def _command_scope(self, request: web.Request) -> tuple[BotAccount, tuple[int, int | None]]:
        bot = bot_from_request(self._state, request)
        app_id = int(request.match_info["app_id"])
        if app_id != bot.application_id:
            raise ApiError(403, 50001, "Missing Access")
        raw_guild = request.match_info.get("guild_id")
        guild_id = None if raw_guild is None else int(raw_guild)
        if guild_id is not None and (
            guild_id not in self._state.guilds or not bot.sees_guild(guild_id)
        ):
            raise ApiError(403, 50001, "Missing Access")
        return bot, (app_id, guild_id)

    async def put_commands(self, request: web.Request) -> web.Response:
        """Bulk overwrite: ids stay stable for a name, and every sync is counted."""
        _bot, key = self._command_scope(request)
        body, _files = await read_body(request)
        if not isinstance(body, list):
            raise ApiError(400, 50035, "Invalid Form Body")
        problems = command_problems(body)
        if problems:
            raise ApiError(400, 50035, "Invalid Form Body", error_body(problems))
        previous = {
            (c["name"], c.get("type", 1)): c["id"] for c in self._state.commands.get(key, [])
        }
        stored = [self._stored_command(c, key, previous) for c in body]
        self._state.commands[key] = stored
        self._state.sync_counts[key] = self._state.sync_counts.get(key, 0) + 1
        self._state.notify()
        return json_response(stored)

    def _stored_command(
        self, command: JSON, key: tuple[int, int | None], previous: dict[tuple[str, int], str]
    ) -> JSON:
        app_id, guild_id = key
        kind = command.get("type", 1)
        stored: JSON = {
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            **command,
            "id": previous.get((command["name"], kind)) or str(self._state.ids.next()),
            "application_id": str(app_id),
            "type": kind,
            "version": str(self._state.ids.next()),
        }
        if guild_id is not None:
            stored["guild_id"] = str(guild_id)
        return stored

    async def get_commands(self, request: web.Request) -> web.Response:
        """GET of the same path: what `tree.fetch_commands()` reads."""
        _bot, key = self._command_scope(request)
        return json_response(self._state.commands.get(key, []))

    # --- channels and messages -----------------------------------------------------------

    def _channel(self, request: web.Request) -> tuple[BotAccount, Guild, Channel]:
        bot = bot_from_request(self._state, request)
        guild, channel = self._state.find_channel(int(request.match_info["channel_id"]))
        if not bot.sees_guild(guild.id):
            raise ApiError(403, 50001, "Missing Access")
        return bot, guild, channel

    def _message(self, request: web.Request) -> tuple[BotAccount, Message]:
        bot, _guild, channel = self._channel(request)
        message = self._state.find_message(channel.id, int(request.match_info["message_id"]))
        if message.ephemeral:
            raise ApiError(404, 10008, "Unknown Message")
        return bot, message

    async def get_channel(self, request: web.Request) -> web.Response:
        """GET /channels/{id} (text channel or thread)."""
        _bot, _guild, channel = self._channel(request)
        count = len(self._state.channel_history(channel.id, include_ephemeral=False))
        return json_response(channel.payload(message_count=count))

    async def get_history(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/messages: newest first, honouring limit/before/after."""
        _bot, _guild, channel = self._channel(request)
        limit = min(int(request.query.get("limit", "50")), HISTORY_LIMIT_MAX)
        found = self._state.channel_history(channel.id, include_ephemeral=False)
        if "before" in request.query:
            found = [m for m in found if m.id < int(request.query["before"])]
        if "after" in request.query:
            found = [m for m in found if m.id > int(request.query["after"])]
            return json_response([m.payload() for m in reversed(found[:limit])])
        return json_response([m.payload() for m in reversed(found[-limit:])])

    async def post_message(self, request: web.Request) -> web.Response:
        """POST /channels/{id}/messages, JSON or multipart with files."""
        bot, _guild, channel = self._channel(request)
        body, files = await read_body(request)
        fields = message_fields(body)
        check_limits(fields)
        if not (fields.get("content") or fields.get("embeds") or files or fields.get("components")):
            raise ApiError(400, 50006, "Cannot send an empty message")
        fields["flags"] = int(fields.get("flags") or 0) & ~(1 << 6)  # no ephemeral here
        message = self._state.create_message(
            channel.id, bot.user, fields, files, attachment_specs=body.get("attachments")
        )
        return json_response(message.payload())

    async def get_message(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/messages/{mid}."""
        _bot, message = self._message(request)
        return json_response(message.payload())

    async def patch_message(self, request: web.Request) -> web.Response:
        """PATCH: a bot may only edit its own messages (Discord: 50005)."""
        bot, message = self._message(request)
        if message.author.id != bot.user.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        body, files = await read_body(request)
        fields = message_fields(body)
        check_limits(fields)
        self._state.edit_message(message, fields, files, attachment_specs=body.get("attachments"))
        self._count_component_followthrough(message)
        return json_response(message.payload())

    def _count_component_followthrough(self, message: Message) -> None:
        """A button that deferred (type 6) and then edited its message via the channel."""
        for record in self._state.interactions.values():
            if record.message_id == message.id and record.callback_type == 6:
                record.message_edits_after_callback += 1

    async def delete_message(self, request: web.Request) -> web.Response:
        """DELETE /channels/{id}/messages/{mid}."""
        _bot, message = self._message(request)
        self._state.delete_message(message)
        return no_content()

    async def post_typing(self, request: web.Request) -> web.Response:
        """POST /channels/{id}/typing (`async with channel.typing()`)."""
        self._channel(request)
        return no_content()

    # --- threads -------------------------------------------------------------------------

    async def post_thread_from_message(self, request: web.Request) -> web.Response:
        """Start a thread on a message; on Discord the thread's id is the message's id."""
        bot, message = self._message(request)
        guild, parent = self._state.find_channel(message.channel_id)
        if message.id in guild.channels:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        body, _files = await read_body(request)
        thread = self._new_thread(guild, parent, message.id, bot, body)
        return await self._announce_thread(guild, thread)

    async def post_thread(self, request: web.Request) -> web.Response:
        """Start a thread without a message."""
        bot, guild, parent = self._channel(request)
        body, _files = await read_body(request)
        thread = self._new_thread(guild, parent, self._state.ids.next(), bot, body)
        return await self._announce_thread(guild, thread)

    def _new_thread(
        self, guild: Guild, parent: Channel, thread_id: int, bot: BotAccount, body: JSON
    ) -> Channel:
        if parent.is_thread:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        thread = Channel(
            id=thread_id,
            guild_id=guild.id,
            name=str(body.get("name") or "thread"),
            type=int(body.get("type") or PUBLIC_THREAD),
            parent_id=parent.id,
            owner_id=bot.user.id,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
        )
        guild.channels[thread.id] = thread
        self._state.notify()
        return thread

    async def _announce_thread(self, guild: Guild, thread: Channel) -> web.Response:
        payload = thread.payload()
        await self._broadcast(guild.id, "THREAD_CREATE", {**payload, "newly_created": True})
        return json_response(payload, 201)

    # --- guild reads and the attachment CDN ----------------------------------------------

    def _guild(self, request: web.Request) -> Guild:
        bot = bot_from_request(self._state, request)
        guild = self._state.guilds.get(int(request.match_info["guild_id"]))
        if guild is None or not bot.sees_guild(guild.id):
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/channels (threads excluded, as on Discord)."""
        guild = self._guild(request)
        return json_response([c.payload() for c in guild.channels.values() if not c.is_thread])

    async def get_guild_roles(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/roles."""
        guild = self._guild(request)
        return json_response([role.payload() for role in guild.roles.values()])

    async def get_member(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/members/{user_id} (`guild.fetch_member`)."""
        guild = self._guild(request)
        member = guild.members.get(int(request.match_info["user_id"]))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return json_response(member.payload())

    async def get_attachment(self, request: web.Request) -> web.Response:
        """The CDN: `await attachment.read()` on the bot side downloads from here."""
        attachment = self._state.attachments.get(int(request.match_info["attachment_id"]))
        if attachment is None or attachment.filename != request.match_info["filename"]:
            raise web.HTTPNotFound()
        return web.Response(body=attachment.data, headers={"Content-Type": attachment.content_type})


async def _unknown_route(request: web.Request) -> web.Response:
    raise ApiError(404, 0, "404: Not Found")
