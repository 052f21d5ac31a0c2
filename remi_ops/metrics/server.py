"""The ``/metrics`` HTTP endpoint: ``[metrics] listen`` → prometheus_client's own server.

prometheus_client's ``start_http_server`` (a threading WSGI server in a daemon thread)
serves the registry; it needs no event loop, so the headless watcher and Bubabot serve it
the same way, and a frozen loop still answers a scrape (with the snapshot the loop last
published: its heartbeat says how old). A port already taken, or an address that cannot
be listened on, is a configuration problem naming ``metrics.listen`` (exit 2), never a
traceback.
"""

from __future__ import annotations

import errno
import logging
import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

from remi_ops.exceptions import ConfigError

log = logging.getLogger(__name__)
FIELD = "metrics.listen"
#: how long ``stop`` waits for the serving thread (a scrape in progress finishes first)
STOP_WAIT_S = 5.0


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """``host:port`` (``[::1]:9808`` for IPv6) as the socket wants it."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> ListenAddress:
        """Split a ``listen`` the config model validated (shape and port range)."""
        host, _, port = text.rpartition(":")
        return cls(host.removeprefix("[").removesuffix("]"), int(port))

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class MetricsServer:
    """One listening ``/metrics`` endpoint; ``stop`` closes its socket."""

    def __init__(self, server: WSGIServer, thread: threading.Thread,
                 address: ListenAddress) -> None:
        self._server, self._thread, self.address = server, thread, address

    @classmethod
    def start(cls, registry: CollectorRegistry, listen: str) -> MetricsServer:
        """Listen now (blocking: name resolution and bind), or raise ``ConfigError``."""
        address = ListenAddress.parse(listen)
        try:
            server, thread = start_http_server(address.port, address.host, registry=registry)
        except OSError as exc:
            raise ConfigError([f"{FIELD}: cannot serve metrics on {address}: "
                               f"{_why(exc)}"]) from None
        log.info("metrics: serving http://%s/metrics", address)
        return cls(server, thread, address)

    def stop(self) -> None:
        """Stop answering and free the port (idempotent)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(STOP_WAIT_S)


def _why(exc: OSError) -> str:
    """The operator's next step, by the reason the OS gave."""
    if exc.errno == errno.EADDRINUSE:
        return ("the port is already in use (another watcher or program listens there); "
                "choose another port, or leave listen empty to turn metrics off")
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges; use e.g. 9808)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "that address is not one of this machine's"
    return exc.strerror or str(exc)  # e.g. a host name that does not resolve
