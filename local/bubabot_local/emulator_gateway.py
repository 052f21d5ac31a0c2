"""The emulated gateway: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME.

Frames go out as TEXT JSON whatever `compress=` the client asked for: discord.py only
inflates BINARY frames. One `GatewaySession` per IDENTIFY; it outlives its socket so a
RESUME on a new socket can pick it up (missed events are not replayed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from bubabot_local.emulator_state import EmulatorError, EmulatorState
from bubabot_local.emulator_world import JSON, PRIVILEGED_INTENTS, BotAccount, Guild, Member

_log = logging.getLogger(__name__)

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_SESSION_TIMED_OUT = 4009
CLOSE_DISALLOWED_INTENTS = 4014
WS_CLOSE_TIMEOUT_S = 1.0
BROADCAST_SEND_TIMEOUT_S = 1.0


@dataclass
class GatewaySession:
    """One identified session of one bot; `ws` is None while disconnected."""

    session_id: str
    bot: BotAccount
    seq: int = 0
    ws: web.WebSocketResponse | None = field(default=None, repr=False)
    valid: bool = True

    @property
    def connected(self) -> bool:
        """A live socket is attached."""
        return self.ws is not None and not self.ws.closed


@dataclass
class _Connection:
    """Per-socket state; `session` is set by IDENTIFY or RESUME."""

    ws: web.WebSocketResponse
    session: GatewaySession | None = None
    last_beat: float = field(default_factory=time.monotonic)


class Gateway:
    """The websocket endpoint and the ways the emulator pushes events to bots."""

    def __init__(
        self,
        state: EmulatorState,
        *,
        heartbeat_interval_ms: int,
        gateway_url: Callable[[], str],
        enforce_heartbeats: bool = False,
    ) -> None:
        self._state = state
        self._interval_ms = heartbeat_interval_ms
        self._gateway_url = gateway_url
        self._enforce = enforce_heartbeats
        self.sessions: dict[str, GatewaySession] = {}
        self.current: dict[str, GatewaySession] = {}  # bot token → latest session
        self._sockets: set[web.WebSocketResponse] = set()

    # --- the websocket endpoint ----------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET /gateway/ → websocket; refused with 503 during an outage."""
        if self._state.outage:
            self._state.refused_gateway_connects += 1
            self._state.notify()
            return web.Response(status=503, text="gateway unavailable")
        ws = web.WebSocketResponse(timeout=WS_CLOSE_TIMEOUT_S, compress=False, max_msg_size=0)
        await ws.prepare(request)
        self._sockets.add(ws)
        conn = _Connection(ws)
        watchdog = asyncio.create_task(self._watch_heartbeats(conn)) if self._enforce else None
        try:
            await self._send(ws, OP_HELLO, {"heartbeat_interval": self._interval_ms})
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    await self._on_frame(conn, json.loads(frame.data))
        finally:
            if watchdog is not None:
                watchdog.cancel()
            self._sockets.discard(ws)
            if conn.session is not None and conn.session.ws is ws:
                conn.session.ws = None
            self._state.notify()
        return ws

    async def _on_frame(self, conn: _Connection, frame: JSON) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == OP_HEARTBEAT:
            await self._on_heartbeat(conn)
        elif op == OP_IDENTIFY:
            await self._on_identify(conn, data or {})
        elif op == OP_RESUME:
            await self._on_resume(conn, data or {})
        elif op == OP_REQUEST_GUILD_MEMBERS:
            await self._on_request_members(conn, data or {})
        elif op == OP_PRESENCE_UPDATE and conn.session is not None:
            conn.session.bot.presence = data
        else:
            _log.debug("gateway op %s ignored", op)

    async def _on_heartbeat(self, conn: _Connection) -> None:
        conn.last_beat = time.monotonic()
        bot = conn.session.bot if conn.session is not None else None
        if bot is not None:
            bot.heartbeat_count += 1
            bot.last_heartbeat_at = conn.last_beat
            self._state.notify()
        if bot is None or bot.ack_heartbeats:
            await self._send(conn.ws, OP_HEARTBEAT_ACK, None)

    async def _on_identify(self, conn: _Connection, data: JSON) -> None:
        bot = self._state.bots.get(str(data.get("token", "")))
        if bot is None:
            await conn.ws.close(code=CLOSE_AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        if (
            int(data.get("intents") or 0) & PRIVILEGED_INTENTS
            and not bot.privileged_intents_enabled
        ):
            await conn.ws.close(code=CLOSE_DISALLOWED_INTENTS, message=b"Disallowed intent(s).")
            return
        session = GatewaySession(session_id=secrets.token_hex(16), bot=bot, ws=conn.ws)
        conn.session = session
        self.sessions[session.session_id] = session
        self.current[bot.token] = session
        bot.identify_count += 1
        await self._dispatch(session, "READY", self._ready_payload(session))
        for guild in self._state.guilds.values():
            if bot.sees_guild(guild.id):
                await self._dispatch(session, "GUILD_CREATE", self.guild_payload(guild))
        self._state.notify()

    async def _on_resume(self, conn: _Connection, data: JSON) -> None:
        session = self.sessions.get(str(data.get("session_id", "")))
        if session is None or not session.valid or session.bot.token != data.get("token"):
            await self._send(conn.ws, OP_INVALID_SESSION, False)
            return
        previous = session.ws
        session.ws = conn.ws
        conn.session = session
        self.current[session.bot.token] = session
        session.bot.resume_count += 1
        if previous is not None and previous is not conn.ws and not previous.closed:
            await previous.close(code=WSCloseCode.GOING_AWAY)
        await self._dispatch(session, "RESUMED", {})
        self._state.notify()

    async def _on_request_members(self, conn: _Connection, data: JSON) -> None:
        if conn.session is None:
            return
        guild = self._state.guilds.get(int(data.get("guild_id") or 0))
        if guild is None:
            return
        chunk = {
            "guild_id": str(guild.id),
            "members": [member.payload() for member in self._members(guild)],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self._dispatch(conn.session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _watch_heartbeats(self, conn: _Connection) -> None:
        """Like Discord: a socket that stops beating is closed with 4009 and not resumable."""
        grace = self._interval_ms / 1000 * 1.5
        while not conn.ws.closed:
            await asyncio.sleep(min(grace / 4, 1.0))
            if time.monotonic() - conn.last_beat > grace:
                if conn.session is not None:
                    conn.session.valid = False
                await conn.ws.close(code=CLOSE_SESSION_TIMED_OUT, message=b"Session timed out.")
                return

    # --- payloads ------------------------------------------------------------------------

    def _ready_payload(self, session: GatewaySession) -> JSON:
        bot = session.bot
        guilds = [
            {"id": str(guild_id), "unavailable": True}
            for guild_id in self._state.guilds
            if bot.sees_guild(guild_id)
        ]
        return {
            "v": 10,
            "user": {**bot.user.payload(), "verified": True, "mfa_enabled": False},
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self._gateway_url(),
            "guilds": guilds,
            "private_channels": [],
            "relationships": [],
            "application": {"id": str(bot.application_id), "flags": 0},
        }

    def _members(self, guild: Guild) -> list[Member]:
        """Human members plus every bot in the guild (so `guild.me` exists)."""
        bots = [
            Member(guild_id=guild.id, user=bot.user)
            for bot in self._state.bots.values()
            if bot.sees_guild(guild.id) and bot.user.id not in guild.members
        ]
        return [*guild.members.values(), *bots]

    def guild_payload(self, guild: Guild) -> JSON:
        """A full GUILD_CREATE; `member_count` equals the members sent, so no chunking."""
        members = self._members(guild)
        message_counts = {c: len(self._state.channel_messages.get(c, [])) for c in guild.channels}
        return {
            "id": str(guild.id),
            "name": guild.name,
            "owner_id": str(guild.owner_id or 0),
            "icon": None,
            "unavailable": False,
            "large": False,
            "member_count": len(members),
            "roles": [role.payload() for role in guild.roles.values()],
            "channels": [c.payload() for c in guild.channels.values() if not c.is_thread],
            "threads": [
                c.payload(message_counts[c.id]) for c in guild.channels.values() if c.is_thread
            ],
            "members": [member.payload() for member in members],
            "features": [],
            "emojis": [],
            "stickers": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "joined_at": None,
            "preferred_locale": "en-US",
            "verification_level": 0,
            "premium_tier": 0,
        }

    # --- sending -------------------------------------------------------------------------

    async def _send(self, ws: web.WebSocketResponse, op: int, data: Any, **extra: Any) -> None:
        if ws.closed:
            return
        frame = {"op": op, "d": data, "s": None, "t": None, **extra}
        await ws.send_str(json.dumps(frame))

    async def _dispatch(self, session: GatewaySession, event: str, data: JSON) -> None:
        if session.ws is None:
            raise EmulatorError(f"{session.bot.user.name} is not connected to the gateway")
        session.seq += 1
        await self._send(session.ws, OP_DISPATCH, data, s=session.seq, t=event)

    async def connected_session(self, bot: BotAccount, within_s: float) -> GatewaySession:
        """The bot's live session, waiting up to `within_s` for it (e.g. mid-reconnect)."""

        def ready() -> bool:
            session = self.current.get(bot.token)
            return session is not None and session.connected

        await self._state.notifier.wait_for(ready, within_s, f"{bot.user.name} to be connected")
        return self.current[bot.token]

    async def dispatch(
        self, bot: BotAccount, event: str, data: JSON, within_s: float = 5.0
    ) -> None:
        """Send one event to the bot's current session."""
        session = await self.connected_session(bot, within_s)
        await self._dispatch(session, event, data)

    async def broadcast(self, guild_id: int, event: str, data: JSON) -> None:
        """Send an event to every connected bot in the guild; a stuck one is skipped."""
        for session in list(self.current.values()):
            if session.connected and session.bot.sees_guild(guild_id):
                with contextlib.suppress(TimeoutError, ConnectionError, EmulatorError):
                    await asyncio.wait_for(
                        self._dispatch(session, event, data), BROADCAST_SEND_TIMEOUT_S
                    )

    # --- fault injection -----------------------------------------------------------------

    async def send_op(self, bot: BotAccount, op: int, data: Any) -> None:
        """Send a raw opcode (7 RECONNECT, 9 INVALID_SESSION, 1 HEARTBEAT request)."""
        session = await self.connected_session(bot, within_s=5.0)
        if op == OP_INVALID_SESSION and not data:
            session.valid = False
        assert session.ws is not None
        await self._send(session.ws, op, data)

    async def disconnect(self, bot: BotAccount, code: int) -> None:
        """Close the bot's socket from the server side (the session stays resumable)."""
        session = self.current.get(bot.token)
        if session is not None and session.ws is not None:
            await session.ws.close(code=code)

    async def close_all(self, code: int = WSCloseCode.GOING_AWAY) -> None:
        """Close every socket (outage, shutdown); aiohttp shutdown hangs otherwise."""
        sockets = list(self._sockets)
        await asyncio.gather(*(ws.close(code=code) for ws in sockets), return_exceptions=True)
