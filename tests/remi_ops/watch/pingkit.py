"""A Healthchecks-like ping server on 127.0.0.1 for the dead-man ping tests: it records
every request (method, path, query, body) and can be told to answer slowly."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    query: str
    body: str


@dataclass
class PingServer:
    """What the service outside saw; ``delay_s`` makes every answer that late."""

    delay_s: float = 0.0
    hits: list[Hit] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append(Hit(request.method, request.path, request.query_string,
                             await request.text()))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return web.Response(text="OK")

    def paths(self) -> list[str]:
        return [h.path for h in self.hits]


@asynccontextmanager
async def ping_server(delay_s: float = 0.0,
                      token: str = "5f3e1d0c-ping-uuid-0001") -> AsyncIterator[PingServer]:
    """A running server; its ``url`` is the ping URL (``http://127.0.0.1:PORT/TOKEN``)."""
    server = PingServer(delay_s)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}/{token}"
    try:
        yield server
    finally:
        await runner.cleanup()


def refused_url() -> str:
    """A URL on a port nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/5f3e1d0c-ping-uuid-0002"
