"""A local Discord that an unmodified discord.py 2.7.1 client logs in to.

Used by the end-to-end tests, by local mode (a person types slash commands in a terminal and
watches #quick-tasks) and by the simulated Remi in a child process. It binds 127.0.0.1 on a
free port, speaks enough REST and gateway for login, command sync, slash commands, buttons,
interaction responses, follow-ups, messages with embeds/files, threads, and lets tests
inject rate limits, server errors, outages and gateway reconnects.

Typical use::

    emulator = DiscordEmulator()
    await emulator.start()
    patch_discord_py(emulator)
    emulator.add_guild(GUILD)
    emulator.add_channel(GUILD, QUICK_TASKS, "quick-tasks")
    emulator.add_bot(TOKEN, BOT_ID, "Bubabot")
    ...
    interaction = await emulator.invoke_slash(guild_id=GUILD, channel_id=QUICK_TASKS,
                                              user_id=PERSON, name="health")
    await emulator.wait_for_response(interaction)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Self

from aiohttp import WSCloseCode, web

from bubabot_local.discord_patch import (
    ENV_API_BASE,
    ENV_GATEWAY,
    emulator_env,
    patch_discord_py,
    patch_from_env,
    unpatch_discord_py,
)
from bubabot_local.emulator_driver import (
    AUTOCOMPLETE,
    COMPONENT,
    SLASH_COMMAND,
    InteractionDriver,
)
from bubabot_local.emulator_gateway import OP_HEARTBEAT, OP_INVALID_SESSION, OP_RECONNECT, Gateway
from bubabot_local.emulator_messages import Attachment, Interaction, Message
from bubabot_local.emulator_rest import RestApi
from bubabot_local.emulator_state import (
    EmulatorError,
    EmulatorState,
    EmulatorTimeout,
    FaultRule,
)
from bubabot_local.emulator_webhooks import WebhookApi
from bubabot_local.emulator_world import (
    DEFAULT_EVERYONE_PERMISSIONS,
    JSON,
    BotAccount,
    Channel,
    Guild,
    Member,
    RecordedRequest,
    Role,
    User,
)

__all__ = [
    "ENV_API_BASE",
    "ENV_GATEWAY",
    "Attachment",
    "BotAccount",
    "Channel",
    "DiscordEmulator",
    "EmulatorError",
    "EmulatorTimeout",
    "Guild",
    "Interaction",
    "Member",
    "Message",
    "RecordedRequest",
    "Role",
    "emulator_env",
    "patch_discord_py",
    "patch_from_env",
    "unpatch_discord_py",
]

SHUTDOWN_TIMEOUT_S = 0.5


class DiscordEmulator:
    """The emulated Discord: world setup, driving, observing and fault injection."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat_interval_ms: int = 41250,
        enforce_heartbeats: bool = False,
        ack_deadline_s: float | None = None,
    ) -> None:
        """`enforce_heartbeats` closes silent sockets with 4009 after 1.5 intervals, as
        Discord drops a bot whose event loop is blocked; `ack_deadline_s=3.0` makes late
        interaction callbacks fail with 10062 "Unknown interaction", as on Discord."""
        self.host = host
        self.port = port
        self.base_url = ""
        self._state = EmulatorState(ack_deadline_s=ack_deadline_s)
        self._gateway = Gateway(
            self._state,
            heartbeat_interval_ms=heartbeat_interval_ms,
            gateway_url=lambda: self.gateway_url,
            enforce_heartbeats=enforce_heartbeats,
        )
        self._rest = RestApi(self._state, lambda: self.gateway_url, self._gateway.broadcast)
        self._webhooks = WebhookApi(self._state)
        self._driver = InteractionDriver(self._state, self._gateway)
        self._runner: web.AppRunner | None = None

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and serve; sets `port` and `base_url`."""
        app = web.Application(middlewares=[self._rest.middleware], client_max_size=64 * 2**20)
        app.add_routes(self._rest.routes())
        app.add_routes(self._webhooks.routes())
        app.add_routes([web.get("/gateway", self._gateway.handle)])
        app.add_routes([web.get("/gateway/", self._gateway.handle)])
        app.add_routes([self._rest.fallback_route()])
        self._runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT_S, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.base_url = f"http://{self.host}:{self.port}"
        self._state.base_url = self.base_url

    async def stop(self) -> None:
        """Close websockets first (aiohttp shutdown hangs on open ones), then the server."""
        if self._runner is None:
            return
        await self._gateway.close_all(WSCloseCode.GOING_AWAY)
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def ack_deadline_s(self) -> float | None:
        """Callbacks later than this after dispatch fail with 10062 (None: no deadline)."""
        return self._state.ack_deadline_s

    @ack_deadline_s.setter
    def ack_deadline_s(self, value: float | None) -> None:
        self._state.ack_deadline_s = value

    @property
    def api_base(self) -> str:
        """REST base for `discord.http.Route.BASE`."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """Websocket URL for `DiscordWebSocket.DEFAULT_GATEWAY` and READY's resume URL."""
        return f"ws://{self.host}:{self.port}/gateway/"

    def patch_discord_py(self) -> None:
        """Point this process's discord.py at this emulator."""
        patch_discord_py(self)

    def env(self) -> dict[str, str]:
        """Environment for a child process that calls `patch_from_env()`."""
        return emulator_env(self)

    # --- world setup ---------------------------------------------------------------------
    # Set the world up before bots connect: GUILD_CREATE carries it, and later changes are
    # not pushed as gateway events (interactions always carry the member's current roles).

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

    # --- driving -------------------------------------------------------------------------

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

    # --- observing -----------------------------------------------------------------------

    def messages(self, channel_id: int, *, include_ephemeral: bool = False) -> list[Message]:
        """Live messages of a channel, oldest first, edits applied."""
        return self._state.channel_history(channel_id, include_ephemeral=include_ephemeral)

    def message(self, message_id: int) -> Message:
        """One live message by id."""
        message = self._state.messages.get(message_id)
        if message is None or message.deleted:
            raise EmulatorError(f"no message {message_id}")
        return message

    @property
    def interactions(self) -> list[Interaction]:
        """Every interaction dispatched, in order."""
        return list(self._state.interactions.values())

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST request received (Authorization header removed)."""
        return list(self._state.requests)

    @property
    def unhandled_requests(self) -> list[RecordedRequest]:
        """Requests to routes the emulator does not implement (answered 404)."""
        return list(self._state.unhandled)

    def find_requests(
        self, method: str | None = None, path_contains: str = ""
    ) -> list[RecordedRequest]:
        """Recorded requests filtered by method and a path fragment."""
        return [
            r
            for r in self._state.requests
            if (method is None or r.method == method) and path_contains in r.path
        ]

    def synced_commands(self, application_id: int, guild_id: int | None = None) -> list[JSON]:
        """The commands last synced for an application (guild or global)."""
        return list(self._state.commands.get((application_id, guild_id), []))

    def sync_count(self, application_id: int | None = None, guild_id: int | None = None) -> int:
        """How many bulk-overwrite PUTs happened (all scopes when `application_id` is None)."""
        if application_id is None:
            return sum(self._state.sync_counts.values())
        return self._state.sync_counts.get((application_id, guild_id), 0)

    def bot(self, *, bot_token: str | None = None, application_id: int | None = None) -> BotAccount:
        """A bot account (identify/resume/heartbeat counters, presence)."""
        return self._driver.pick_bot(bot_token, application_id)

    def is_connected(
        self, *, bot_token: str | None = None, application_id: int | None = None
    ) -> bool:
        """Whether the bot has a live gateway socket with an identified session."""
        bot = self._driver.pick_bot(bot_token, application_id)
        session = self._gateway.current.get(bot.token)
        return session is not None and session.connected

    @property
    def refused_gateway_connects(self) -> int:
        """Gateway connection attempts refused during outages."""
        return self._state.refused_gateway_connects

    # --- fault injection -----------------------------------------------------------------

    def fail_next(
        self,
        n: int,
        status: int = 429,
        retry_after: float = 0.05,
        route_prefix: str | None = None,
    ) -> None:
        """Answer the next `n` REST requests (under `route_prefix`, e.g. "/channels/") with
        `status` (400-599). discord.py's HTTP client retries 429 after `retry_after` and
        500/502/504 after 1 s, 3 s, …; other statuses raise (403 → Forbidden, 404 → NotFound,
        503 → DiscordServerError). Its webhook adapter (interaction callbacks, follow-ups)
        retries every 5xx, 503 included."""
        if not 400 <= status <= 599:
            raise EmulatorError(f"status {status} is not an error status")
        self._state.faults.append(FaultRule(n, status, retry_after, route_prefix))

    async def outage(self) -> None:
        """Drop every gateway socket and refuse REST (503) and new sockets until the end."""
        self._state.outage = True
        self._state.notify()
        await self._gateway.close_all(WSCloseCode.SERVICE_RESTART)

    async def end_outage(self) -> None:
        """Serve again; clients reconnect with their own (random) backoff and RESUME."""
        self._state.outage = False
        self._state.notify()

    async def send_reconnect(
        self, *, bot_token: str | None = None, application_id: int | None = None
    ) -> None:
        """Op 7 RECONNECT: the client closes and RESUMEs."""
        await self._gateway.send_op(
            self._driver.pick_bot(bot_token, application_id), OP_RECONNECT, None
        )

    async def invalidate_session(
        self, resumable: bool, *, bot_token: str | None = None, application_id: int | None = None
    ) -> None:
        """Op 9 INVALID_SESSION: true → RESUME; false → IDENTIFY after `before_identify_hook`."""
        bot = self._driver.pick_bot(bot_token, application_id)
        await self._gateway.send_op(bot, OP_INVALID_SESSION, resumable)

    async def request_heartbeat(
        self, *, bot_token: str | None = None, application_id: int | None = None
    ) -> None:
        """Op 1 from the server: the client must beat at once."""
        await self._gateway.send_op(
            self._driver.pick_bot(bot_token, application_id), OP_HEARTBEAT, None
        )

    async def disconnect(
        self, code: int = 4000, *, bot_token: str | None = None, application_id: int | None = None
    ) -> None:
        """Close the bot's socket with `code` (4004/4010-4014 are fatal for discord.py)."""
        await self._gateway.disconnect(self._driver.pick_bot(bot_token, application_id), code)

    def set_heartbeat_acks(
        self, enabled: bool, *, bot_token: str | None = None, application_id: int | None = None
    ) -> None:
        """Stop (or resume) acking heartbeats: a zombie connection from the client's side."""
        self._driver.pick_bot(bot_token, application_id).ack_heartbeats = enabled


def _describe(interaction: Interaction) -> str:
    if interaction.callback_type is None:
        return "no callback yet"
    return (
        f"callback type {interaction.callback_type}, {len(interaction.followups)} follow-up(s), "
        f"{interaction.original_edits} edit(s) of the original"
    )
