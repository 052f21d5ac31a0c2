"""The emulator's server: the aiohttp app (REST, webhooks, gateway) and its lifecycle.

:class:`EmulatorServer` owns the shared state and the parts that serve it; the rest of
:class:`~bubabot_local.emulator.DiscordEmulator` (world setup, people's actions,
observation, fault injection) builds on it, one module each.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import WSCloseCode, web

from bubabot_local.discord_patch import emulator_env, patch_discord_py
from bubabot_local.emulator_channel_webhooks import ChannelWebhooks
from bubabot_local.emulator_driver import InteractionDriver
from bubabot_local.emulator_gateway import Gateway
from bubabot_local.emulator_rest import RestApi
from bubabot_local.emulator_state import EmulatorState
from bubabot_local.emulator_webhooks import WebhookApi

SHUTDOWN_TIMEOUT_S = 0.5


class EmulatorServer:
    """Binds 127.0.0.1 on a free port and serves the emulated Discord until stopped."""

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
        self._channel_hooks = ChannelWebhooks(self._state)
        self._webhooks = WebhookApi(self._state, self._channel_hooks)
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
