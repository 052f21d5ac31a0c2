"""systemd's ``sd_notify`` in the standard library: one datagram to ``$NOTIFY_SOCKET``.

Under ``Type=notify`` with ``WatchdogSec=``, systemd waits for ``READY=1`` before it calls
the service started, and restarts it when ``WATCHDOG=1`` stops arriving. The beacon sends
``WATCHDOG=1`` from the beat that runs *on Remi's event loop*, so a blocked loop (the seed
incident's frozen SoundCloud call) stops the pings and systemd acts, while a thread that
kept pinging would hide the freeze.

The socket is non-blocking: a send that would wait (systemd's queue full) is dropped, so the
loop never waits on it. A path starting with ``@`` is in Linux's abstract namespace (the
``@`` stands for a leading NUL byte), as in libsystemd.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Mapping

ENV_SOCKET = "NOTIFY_SOCKET"
READY = "READY=1"
WATCHDOG = "WATCHDOG=1"


def socket_address(value: str | None) -> str | None:
    """The address to send to: a filesystem path, or an abstract name (``@x`` → ``\\0x``).

    None when unset, empty, or of a kind this sender does not speak (e.g. ``vsock:``).
    """
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]
    return value if value.startswith("/") else None


class Notifier:
    """One datagram socket to systemd, opened once; every send is best effort."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Notifier | None:
        """A notifier for ``$NOTIFY_SOCKET``, or None when not run by systemd (or no socket)."""
        address = socket_address((os.environ if env is None else env).get(ENV_SOCKET))
        if address is None:
            return None
        try:
            return cls(address)
        except OSError:
            return None  # no AF_UNIX here: nothing to tell systemd

    def send(self, message: str) -> bool:
        """Send one state line (``READY=1``, ``WATCHDOG=1`` …); False when it did not go out
        (socket gone, systemd's queue full): the next beat tries again, nothing raises."""
        try:
            self._sock.sendto(message.encode("utf-8"), self.address)
        except OSError:
            return False
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
