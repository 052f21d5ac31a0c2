"""sd_notify from the beacon: real AF_UNIX datagram sockets, a real loop that beats and blocks."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from remi_ops import beacon
from remi_ops.beacon import read_beacon
from remi_ops.beacon.sdnotify import READY, WATCHDOG, Notifier, socket_address


class FakeSystemd:
    """What systemd does with ``$NOTIFY_SOCKET``: a bound datagram socket, read by a thread."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.05)
        self.messages: list[str] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._done.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.messages.append(data.decode())

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def systemd(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSystemd]:
    """A notify socket on a short path (AF_UNIX paths stop at 107 bytes), in $NOTIFY_SOCKET."""
    with tempfile.TemporaryDirectory(prefix="sdn", dir="/tmp") as folder:
        path = str(Path(folder) / "notify")
        fake = FakeSystemd(path)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        try:
            yield fake
        finally:
            fake.close()


def wait_for_messages(fake: FakeSystemd, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(fake.messages) < count and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.integration
async def test_ready_then_watchdog_while_the_loop_beats_and_none_while_blocked(
        systemd: FakeSystemd, tmp_path: Path) -> None:
    """READY=1 first, WATCHDOG=1 every beat; a blocking call on the loop silences the pings
    while the writer thread keeps writing the file."""
    path = tmp_path / "b.json"
    try:
        beacon.start(path, interval_s=0.05, dump_after_s=0.2)
        await asyncio.sleep(0.4)
        await asyncio.to_thread(wait_for_messages, systemd, 4)
        time.sleep(0.2)  # blocked: the pings sent before it had this long to arrive
        before = len(systemd.messages)
        written_before = read_beacon(path, time.time())
        time.sleep(0.8)  # still blocked, like the seed incident's SoundCloud call
        during = systemd.messages[before:]
        written_during = read_beacon(path, time.time())
        await asyncio.sleep(0.3)  # the loop runs again
        await asyncio.to_thread(wait_for_messages, systemd, before + 2)
    finally:
        beacon.stop()
    assert systemd.messages[0] == READY
    assert systemd.messages[1:before] == [WATCHDOG] * (before - 1)
    assert before - 1 >= 3
    assert during == []
    assert written_before is not None
    assert written_during is not None
    assert written_during.blocked_for_s > written_before.blocked_for_s  # the thread ran
    assert systemd.messages[before:] and set(systemd.messages[before:]) == {WATCHDOG}
    assert systemd.messages.count(READY) == 1


@pytest.mark.integration
def test_abstract_namespace_socket_is_reached() -> None:
    """``@name`` is Linux's abstract namespace: the notifier sends to ``\\0name``."""
    name = f"remi-ops-test-{uuid.uuid4().hex}"
    fake = FakeSystemd("\0" + name)
    try:
        notifier = Notifier.from_environment({"NOTIFY_SOCKET": "@" + name})
        assert notifier is not None
        assert notifier.send(READY)
        notifier.close()
        wait_for_messages(fake, 1)
    finally:
        fake.close()
    assert fake.messages == [READY]


@pytest.mark.parametrize(("value", "address"), [
    (None, None), ("", None), ("vsock:2:1234", None), ("relative/path", None),
    ("/run/systemd/notify", "/run/systemd/notify"), ("@abc", "\0abc")])
def test_socket_address(value: str | None, address: str | None) -> None:
    """Only a path or an abstract name is a socket this sender speaks to."""
    assert socket_address(value) == address


def test_no_notify_socket_no_notifier() -> None:
    """Not run by systemd: the beacon sends nothing."""
    assert Notifier.from_environment({}) is None


def test_a_vanished_socket_is_no_error(tmp_path: Path) -> None:
    """systemd gone (or the socket removed): the send reports False and raises nothing."""
    notifier = Notifier(str(tmp_path / "gone"))
    assert notifier.send(WATCHDOG) is False
    notifier.close()
