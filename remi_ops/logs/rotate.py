"""Size rotation of Remi's logs by copytruncate, done by the watcher that reads them.

Remi holds an append handle on each of its logs (stdout and stderr are files the watcher
opened with ``O_APPEND`` and handed to it; ``discord.log`` is its own ``FileHandler`` in
mode ``'a'``), so a renamed log would go on growing under its new name until Remi
restarts. Copytruncate keeps the handle working: shift ``<log>.N-1`` → ``<log>.N``
(dropping what is past ``keep``), copy the live file to ``<log>.1`` with the same mode,
truncate the live file to 0; the writer's next append lands at the start of the emptied
file.

The watcher rotates a log in the same step that reads it, right after a read that
reached its end (:meth:`LogRotation.rotate_after_read`): what arrived between that read
and the copy is read from the copy (:meth:`Tailer.continue_after_copy`), so every byte
up to the truncation is read exactly once. What a writer appends between the copy's last
read and the truncation (one ``read`` finding the end of the file at a line end, then
``ftruncate``: microseconds, unless the scheduler or a writer holding the file's lock
makes us wait) is lost — that is copytruncate's own window, whoever does it;
``bench/bench_rotate.py`` measures how often it happens under a burst.

A rotation that fails (permissions, a full disk, a symlink where the log should be) is
a warning once per streak; the live file is then left as it was, so nothing is lost and
the next check tries again.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from remi_ops.config import LogSettings
from remi_ops.logs.position import TailChunk
from remi_ops.logs.tail import Tailer

__all__ = ["Copied", "LogRotation", "copytruncate", "numbered"]

log = logging.getLogger(__name__)
_BLOCK = 1024 * 1024
#: how long the copy waits for a half-written line at its end to be finished
LINE_END_WAIT_S = 0.02
LINE_END_POLL_S = 0.0002
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class NotOurFile(Exception):
    """The live file is not the one the tailer read (replaced, or shorter): not rotated."""


@dataclass(frozen=True, slots=True)
class Copied:
    """One copytruncate: the copy made, and how many bytes of the live file it holds."""

    copy: Path
    size: int


def numbered(path: Path, n: int) -> Path:
    """``bot.log`` → ``bot.log.<n>``."""
    return path.with_name(f"{path.name}.{n}")


def copytruncate(path: Path, keep: int, *, identity: tuple[int, int] | None = None,
                 read_up_to: int = 0) -> Copied:
    """Shift the numbered copies, copy ``path`` to ``<path>.1``, truncate ``path`` to 0.

    ``identity`` (device, inode) and ``read_up_to`` say which file the reader read and
    how far: a file that is another one now, or shorter, is left alone (``NotOurFile``).
    Raises ``OSError`` when a step fails; the live file is then not truncated.
    """
    live = os.open(path, os.O_RDWR | _NOFOLLOW | _CLOEXEC)
    try:
        st = os.fstat(live)
        if identity is not None and (st.st_dev, st.st_ino) != identity:
            raise NotOurFile(f"{path} was replaced since it was read")
        if st.st_size < read_up_to:
            raise NotOurFile(f"{path} was truncated since it was read")
        _shift(path, keep)
        copy = numbered(path, 1)
        out = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600)
        try:
            os.fchmod(out, stat.S_IMODE(st.st_mode))  # the copy is as private as the log
            size = _copy_then_truncate(live, out)
        except BaseException:
            os.close(out)
            copy.unlink(missing_ok=True)  # a partial copy; the live file is untouched
            raise
        os.close(out)
    finally:
        os.close(live)
    return Copied(copy, size)


def _copy_then_truncate(live: int, out: int) -> int:
    """Copy until a read finds the end at a line end, and truncate at once: the only
    window in which an append is lost is between that last ``read`` and the ``ftruncate``.

    A copy that ends inside a line most often caught a ``write`` half done (a reader
    sees a write that crosses a page as it goes; the truncation would wait for the rest
    and then drop it): so the end is read again, for at most :data:`LINE_END_WAIT_S`,
    until it is a line end.
    """
    copied, last, deadline = 0, b"\n", 0.0
    while True:
        block = os.read(live, _BLOCK)
        if block:
            _write_all(out, block)
            copied, last = copied + len(block), block[-1:]
            continue
        if last == b"\n" or copied == 0:
            break
        now = time.monotonic()
        deadline = deadline or now + LINE_END_WAIT_S
        if now >= deadline:
            break
        time.sleep(LINE_END_POLL_S)
    os.ftruncate(live, 0)
    return copied


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _shift(path: Path, keep: int) -> None:
    """``.keep-1`` → ``.keep`` … ``.1`` → ``.2``; copies past ``keep`` (left by a larger
    ``keep`` before) are removed, so exactly ``keep`` remain after the copy."""
    extra = keep + 1
    while os.path.lexists(numbered(path, extra)):
        numbered(path, extra).unlink()
        extra += 1
    for n in range(keep - 1, 0, -1):
        older = numbered(path, n)
        if os.path.lexists(older):
            older.replace(numbered(path, n + 1))
    if keep == 1:
        numbered(path, 1).unlink(missing_ok=True)


class LogRotation:
    """Rotates one target's logs past ``max_bytes``, each right after a read drained it."""

    def __init__(self, target: str, settings: LogSettings) -> None:
        self.target = target
        self.max_bytes = settings.max_bytes
        self.keep = settings.keep
        self._failing: set[Path] = set()  # logs whose last rotation failed (warned once)

    def due(self, tailer: Tailer, chunk: TailChunk) -> bool:
        """The read reached the end of a live file past ``max_bytes`` (not a renamed file
        Remi still writes, which is not ours to rotate; not a read cut short)."""
        return (self.max_bytes > 0 and not chunk.more and tailer.reading == tailer.path
                and tailer.read_offset >= self.max_bytes)

    def rotate_after_read(self, tailer: Tailer) -> TailChunk | None:
        """Copytruncate the tailer's file; what came since its read, read from the copy
        (``None`` when nothing was rotated)."""
        position = tailer.position
        path = tailer.path
        extra = {"target": self.target}
        try:
            copied = copytruncate(path, self.keep, read_up_to=tailer.read_offset,
                                  identity=(position.dev, position.inode) if position else None)
        except NotOurFile:
            return None  # the tailer sees what happened at its next read
        except OSError as exc:
            if path not in self._failing:
                self._failing.add(path)
                log.warning("cannot rotate %s (%s: %s); it keeps growing until rotating "
                            "works again (tried at every read)", path, type(exc).__name__,
                            exc.strerror or exc, extra=extra)
            return None
        if path in self._failing:
            self._failing.discard(path)
            log.info("rotating %s works again", path, extra=extra)
        log.info("rotated %s (%d bytes) to %s", path, copied.size, copied.copy, extra=extra)
        return tailer.continue_after_copy(copied.copy, copied.size)
