"""Fault injection: REST errors and rate limits, outages, gateway opcodes and closes.

What Discord does to a bot on a bad day, on demand, so tests show how the bot copes.
"""

from __future__ import annotations

from aiohttp import WSCloseCode

from bubabot_local.emulator_gateway import OP_HEARTBEAT, OP_INVALID_SESSION, OP_RECONNECT
from bubabot_local.emulator_server import EmulatorServer
from bubabot_local.emulator_state import EmulatorError, FaultRule


class FaultInjection(EmulatorServer):
    """Injected failures, one method per kind of bad day."""

    def fail_next(
        self,
        n: int,
        status: int = 429,
        retry_after: float = 0.05,
        route_prefix: str | None = None,
        *,
        global_limit: bool = False,
    ) -> None:
        """Answer the next `n` REST requests (under `route_prefix`, e.g. "/channels/") with
        `status` (400-599). discord.py's HTTP client retries 429 after `retry_after` and
        500/502/504 after 1 s, 3 s, …; other statuses raise (403 → Forbidden, 404 → NotFound,
        503 → DiscordServerError). Its webhook adapter (interaction callbacks, follow-ups)
        retries every 5xx, 503 included. `global_limit` makes a 429 the global one
        (`"global": true`, `X-RateLimit-Global`), as Discord answers past 50 requests/s."""
        if not 400 <= status <= 599:
            raise EmulatorError(f"status {status} is not an error status")
        self._state.faults.append(FaultRule(n, status, retry_after, route_prefix, global_limit))

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
