"""Typed lines for the local console, read without blocking the event loop.

A daemon thread reads and hands lines to the loop through a queue. A file descriptor is
read raw with ``os.read``: no buffered-stdin lock for the interpreter to trip over at exit,
and a terminal nobody types into cannot hold up shutdown (the thread just dies with the
process). Objects without a descriptor (``StringIO``) are read with ``readline``.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable
from typing import TextIO


async def stdin_lines(source: TextIO | None = None) -> AsyncIterator[str]:
    """Lines typed on ``source`` (default: the process's stdin), read by a daemon thread.

    A file descriptor is read raw (``os.read``); an object without one (``StringIO``) by
    ``readline``. Either way the loop only awaits a queue.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def put(line: str | None) -> bool:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        except RuntimeError:  # the loop is closed: nobody listens any more
            return False
        return True

    threading.Thread(target=_pump, args=(source, put), daemon=True,
                     name="local console stdin").start()
    while (line := await queue.get()) is not None:
        yield line


def _pump(source: TextIO | None, put: Callable[[str | None], bool]) -> None:
    """The reader thread: every line, then None at EOF (or when nobody listens)."""
    fd = _fileno(source)
    if fd is None and source is not None:
        while (text := source.readline()) and put(text.rstrip("\n")):
            pass
    elif not _pump_fd(0 if fd is None else fd, put):
        return
    put(None)


def _pump_fd(fd: int, put: Callable[[str | None], bool]) -> bool:
    """Raw reads, split into lines (decoded whole, so UTF-8 split across reads is fine)."""
    buffer = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            chunk = b""
        if not chunk:
            break
        buffer += chunk
        while b"\n" in buffer:
            raw, buffer = buffer.split(b"\n", 1)
            if not put(raw.decode("utf-8", "replace").rstrip("\r")):
                return False
    return not buffer or put(buffer.decode("utf-8", "replace"))


def _fileno(source: TextIO | None) -> int | None:
    if source is None:
        return None
    try:
        return source.fileno()
    except (OSError, ValueError, AttributeError):
        return None
