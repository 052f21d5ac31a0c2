"""The one log line Bubabot writes when Discord is unreachable names a reason a person can
act on."""

from __future__ import annotations

import errno
import socket

from bubabot.link import describe


def test_a_name_that_does_not_resolve_reads_as_such() -> None:
    """Found running with a token and no network: "unknown error -2" (a resolver code
    read as an OS errno)."""
    reason = describe(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    assert reason == "cannot resolve the host name (name or service not known)"


def test_an_os_error_reads_as_its_message() -> None:
    assert describe(ConnectionRefusedError(errno.ECONNREFUSED, "x")) == "connection refused"
