"""A log that nothing was written to since the last read is not opened again: the
kernel's own count of opens (inotify ``IN_OPEN`` on the file) says so. What changes it —
an append, a truncation that regrows to the same size, a copytruncate of an empty log —
is still read."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from remi_ops.logs.tail import Tailer

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify")

IN_OPEN = 0x020
IN_NONBLOCK = 0o4000
_EVENT = struct.Struct("iIII")


class Opens:
    """How many times a file was opened, by anyone, since the last ``take``."""

    def __init__(self, path: Path) -> None:
        self.libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.fd = self.libc.inotify_init1(IN_NONBLOCK)
        assert self.fd >= 0
        assert self.libc.inotify_add_watch(self.fd, os.fsencode(path), IN_OPEN) >= 0

    def take(self) -> int:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return 0
        count, at = 0, 0
        while at < len(data):
            _, mask, _, size = _EVENT.unpack_from(data, at)
            count += bool(mask & IN_OPEN)
            at += _EVENT.size + size
        return count

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[tuple[Path, Opens]]:
    path = tmp_path / "bot.log"
    path.write_bytes(b"first line\nsecond line\n")
    opens = Opens(path)
    yield path, opens
    opens.close()


def test_a_log_with_nothing_new_is_not_opened(log: tuple[Path, Opens]) -> None:
    path, opens = log
    tailer = Tailer(path)
    assert tailer.read_new().data == b"first line\nsecond line\n"
    opens.take()
    for _ in range(3):
        assert tailer.read_new().data == b""
        assert tailer.nothing_new() is not None
    assert opens.take() == 0
    with path.open("ab") as f:
        f.write(b"third line\n")
    assert tailer.nothing_new() is None
    assert tailer.read_new().data == b"third line\n"
    assert opens.take() >= 1


def test_a_log_rewritten_to_the_same_size_is_read_again(log: tuple[Path, Opens]) -> None:
    path, _ = log
    tailer = Tailer(path)
    tailer.read_new()
    time.sleep(0.02)  # a later mtime, even on a coarse clock
    path.write_bytes(b"other line\nsecond line\n")  # truncated, regrown to the same size
    chunk = tailer.read_new()
    assert chunk.truncated
    assert chunk.data == b"other line\nsecond line\n"


def test_an_empty_log_whose_copy_appears_is_read_from_the_copy(tmp_path: Path) -> None:
    """copytruncate of a log that was empty at the last read: the lines are in ``.1``."""
    path = tmp_path / "bot.log"
    path.write_bytes(b"")
    tailer = Tailer(path)
    tailer.read_new()
    tailer.read_new()
    assert tailer.nothing_new() is not None
    time.sleep(0.02)
    (tmp_path / "bot.log.1").write_bytes(b"written then copied\n")
    assert tailer.nothing_new() is None
    assert tailer.read_new().data == b"written then copied\n"
