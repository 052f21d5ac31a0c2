"""The singleton lock: one watcher per target, released by the kernel when it dies.

Part of the OS seam; :mod:`remi_ops.host` re-exports ``TargetLock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from remi_ops.exceptions import LockHeld


class TargetLock:
    """One watcher per target: ``flock`` on ``state_dir/locks/<name>.lock``.

    The kernel drops the lock when its holder dies, so a lock left by a crashed watcher
    is never stale. The file holds the holder's pid for the error message only.
    """

    def __init__(self, state_dir: Path, target_name: str) -> None:
        self.target = target_name
        self.path = state_dir / "locks" / f"{target_name}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> Self:
        """Take the lock or raise :class:`LockHeld` naming the holder's pid."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise LockHeld(self.target, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing drops the flock

    close = release

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode("ascii", errors="replace").strip())
    except (OSError, ValueError):
        return None


