"""The singleton lock: one Remi per workdir + command, released by the kernel on death.

Part of the OS seam; :mod:`remi_ops.host` re-exports ``TargetLock``.

The lock is keyed by what makes a Remi *that* Remi: the real path of its workdir and
its command (for a systemd unit or launchd job, the unit or label). Not by the target's
name, nor by ``state_dir``: two configs for the same workdir with different
``state_dir``s, or two names for the same command and workdir, must meet at one lock,
and staging and prod sharing a ``state_dir`` and a name must not.

Where it lives: ``~/.local/state/remi-ops/locks/<hash>.lock`` (home from the password
database, so a shell, cron and a service of one user agree; a temp dir per uid when
that home is not writable). Not inside the workdir: a missing or read-only workdir must
still be watched and reported, and the bot's tree is not ours to write lock files in.
Per user, because another user's Remi is never ours to start or signal anyway.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import stat
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from remi_ops.config import TargetSettings
from remi_ops.digests import sha256
from remi_ops.exceptions import LockHeld, ProcessError, StateShared


def lock_dir() -> Path:
    """This user's lock directory (see the module docstring), created 0700."""
    uid = os.getuid()
    try:
        home = Path(pwd.getpwuid(uid).pw_dir)
    except KeyError:
        home = Path.home()
    for candidate in (home / ".local" / "state" / "remi-ops" / "locks",
                      Path(tempfile.gettempdir()) / f"remi-ops-{uid}" / "locks"):
        with contextlib.suppress(OSError):
            candidate.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = candidate.lstat()
            if stat.S_ISDIR(info.st_mode) and info.st_uid == uid and os.access(candidate,
                                                                             os.W_OK):
                return candidate
    raise OSError(f"no private, writable lock directory for uid {uid} (tried {home} and "
                  f"{tempfile.gettempdir()})")


#: how long a start waits out a holder that has written no pid: a look (``held_elsewhere``,
#: run by ``status`` and every verb) holds the lock for microseconds, and a real holder
#: writes its pid right after taking it
SETTLE_S = 0.5


class TargetLock:
    """One watcher per Remi: ``flock`` on a file named by the hash of workdir + command.

    The kernel drops the lock when its holder dies, so a lock left by a crashed watcher
    is never stale. The file holds the holder's pid (for the error message) and the
    key in clear, for a human wondering whose lock it is.
    """

    def __init__(self, target: TargetSettings, *, directory: Path | None = None) -> None:
        self.target = target.name
        self.key = target.instance_key()
        digest = sha256(self.key.encode("utf-8", "surrogateescape")).hexdigest()
        self._directory = directory
        self.name = f"{digest[:24]}.lock"
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return (self._directory or lock_dir()) / self.name

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> Self:
        """Take the lock or raise :class:`LockHeld` naming the holder's pid.

        A holder with no pid in the file is a look in progress (or a holder an instant
        before it writes its pid): waited out for up to ``SETTLE_S``, so that a
        ``remi-ops status`` at the moment a watcher starts never turns that start away.
        """
        if self._fd is not None:
            return self
        try:
            path = self.path
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise ProcessError(self.target, "lock", str(exc)) from exc
        deadline = time.monotonic() + SETTLE_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _read_pid(fd)
                if holder is None and time.monotonic() < deadline:
                    time.sleep(0.005)
                    continue
                os.close(fd)
                raise LockHeld(self.target, holder) from None
        os.ftruncate(fd, 0)
        readable_key = self.key.replace("\0", " ")
        os.pwrite(fd, f"{os.getpid()}\n{readable_key}\n".encode(errors="replace"), 0)
        self._fd = fd
        return self

    def held_elsewhere(self) -> bool:
        """True when another open file holds the lock. A look only: a shared lock for an
        instant, nothing created or written, so it never passes for a holder."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return False  # never taken on this machine
        except OSError as exc:
            raise ProcessError(self.target, "lock", str(exc)) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing drops the shared lock
        return False

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
        return int(os.pread(fd, 32, 0).decode("ascii", errors="replace").split()[0])
    except (OSError, ValueError, IndexError):
        return None


class StateLock(TargetLock):
    """One watcher per (``state_dir``, target name): what the store, the outbox and the
    request spool are keyed by. Two deployments sharing both (staging and prod with one
    ``state_dir`` and the name ``remi``) would deliver each other's alerts and answer each
    other's requests; the second watcher is refused at start with a clear line instead.
    """

    def __init__(self, state_dir: Path, target: TargetSettings) -> None:
        super().__init__(target, directory=state_dir / "locks")
        self.state_dir = state_dir
        self.key = f"state {state_dir} target {target.name}"
        digest = sha256(target.name.encode("utf-8", "surrogateescape")).hexdigest()
        self.name = f"state-{digest[:24]}.lock"

    def acquire(self) -> Self:
        try:
            return super().acquire()
        except LockHeld as exc:
            raise StateShared(self.target, str(self.state_dir), exc.holder_pid) from None
