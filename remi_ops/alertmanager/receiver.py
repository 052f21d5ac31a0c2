"""``POST /alertmanager``: Alertmanager's webhook, stored before it is answered.

Alertmanager retries a notification on a 5xx and drops it on a 4xx, so the answers are:
200 once the group and its outbox row are in the store; 401 for a missing or wrong bearer
token (compared in constant time); 400, with one line saying what is wrong, for a body that
is not a version-4 payload (kept in ``alertmanager_rejected``, since Alertmanager will
not send it again); 503 when the store cannot take it (Alertmanager retries). It runs on
Bubabot's event loop (aiohttp), every store write in a worker thread.

The token is ``ALERTMANAGER_WEBHOOK_TOKEN``. Without one, the receiver only listens on a
loopback address (anyone on the host could post, as anyone on the host can read the
state files); on any other address it refuses to start with one config line.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import ipaddress
import logging
from collections.abc import Callable, Mapping

from aiohttp import web

from remi_ops.alertmanager.payload import PayloadRejected, parse_payload
from remi_ops.alertmanager.rows import AlertmanagerRows
from remi_ops.clock import Clock
from remi_ops.exceptions import ConfigError
from remi_ops.metrics.server import ListenAddress

log = logging.getLogger(__name__)
FIELD = "alertmanager.listen"
TOKEN_ENV = "ALERTMANAGER_WEBHOOK_TOKEN"  # noqa: S105 - the variable's name, not a secret
PATH = "/alertmanager"
#: a group of a thousand alerts with long annotations stays under this
MAX_BODY = 8 * 1024 * 1024


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_token(environ: Mapping[str, str], listen: str) -> str | None:
    """The bearer token to require, or None (allowed on loopback only); ``ConfigError``
    when ``listen`` is reachable from other hosts and no token is set."""
    token = environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    address = ListenAddress.parse(listen)
    if not is_loopback(address.host):
        raise ConfigError([f"{FIELD}: {address} is reachable from other hosts, so Bubabot "
                           f"needs a bearer token: set {TOKEN_ENV} (and the same value as "
                           "Alertmanager's http_config.authorization.credentials), or listen "
                           "on 127.0.0.1"])
    log.warning("alertmanager: no %s set; accepting webhooks on %s without a token "
                "(loopback only)", TOKEN_ENV, address)
    return None


class AlertmanagerReceiver:
    """The endpoint; ``on_stored`` is called (on the loop) after each stored notification."""

    def __init__(self, rows: AlertmanagerRows, clock: Clock, token: str | None,
                 on_stored: Callable[[], None] = lambda: None) -> None:
        self.rows = rows
        self.clock = clock
        self._token = token.encode() if token else None
        self.on_stored = on_stored
        self._runner: web.AppRunner | None = None
        self.address: ListenAddress | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(PATH, self.handle)
        return app

    def _authorized(self, request: web.Request) -> bool:
        if self._token is None:
            return True
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                  self._token)

    async def handle(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.Response(status=401, text="missing or wrong bearer token\n",
                                headers={"WWW-Authenticate": "Bearer"})
        body = await request.read()
        now = self.clock.now()
        try:
            payload = parse_payload(body)
        except PayloadRejected as rejected:
            try:
                row = await asyncio.to_thread(self.rows.reject, body, rejected.reason, now)
            except Exception:
                log.exception("alertmanager: could not keep a refused payload")
                return web.Response(status=503, text="cannot store the payload; retry\n")
            log.warning("alertmanager: refused a payload (kept as alertmanager_rejected "
                        "row %d): %s", row, rejected.reason)
            return web.Response(status=400, text=f"{rejected.reason}\n")
        try:
            state = await asyncio.to_thread(self.rows.receive, payload, now)
        except Exception:
            log.exception("alertmanager: could not store group %s; Alertmanager will retry",
                          payload.groupKey[:80])
            return web.Response(status=503, text="cannot store the notification; retry\n")
        log.info("alertmanager: group %s: %d firing, %d resolved", state.group_id[:12],
                 state.firing, state.resolved)
        self.on_stored()
        return web.Response(text="stored\n")

    async def start(self, listen: str) -> None:
        """Listen now, or raise ``ConfigError`` naming ``alertmanager.listen``."""
        address = ListenAddress.parse(listen)
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, address.host, address.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            why = ("the port is already in use" if exc.errno == errno.EADDRINUSE
                   else exc.strerror or str(exc))
            raise ConfigError([f"{FIELD}: cannot listen on {address}: {why}"]) from None
        self._runner, self.address = runner, address
        if address.port == 0:  # tests: the port the OS chose
            server = getattr(site, "_server", None)
            sockets = getattr(server, "sockets", None) or []
            if sockets:
                self.address = ListenAddress(address.host, sockets[0].getsockname()[1])
        log.info("alertmanager: receiving webhooks on http://%s%s", self.address, PATH)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
