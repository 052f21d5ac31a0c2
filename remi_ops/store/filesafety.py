"""Files only the watcher can touch: a private state_dir, a private store, no followed links.

The state_dir holds the audit log, resource samples and alert payloads (``bubabot.sqlite3``)
and the spool the command line writes requests into; nobody else on the machine should
read or plant anything there. So Bubabot creates it ``0700`` and its store ``0600``, and
says so (one warning line per path) when it finds an existing state_dir or a target's
workdir that others may write to: a planted file or symlink there is how a stranger's file
gets appended to. Files Bubabot appends to in a target's workdir (``.bot_alert``) are opened
with ``O_NOFOLLOW``; files it replaces go through ``remi_ops.atomicfile`` (``mkstemp``).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from remi_ops.config import Settings

log = logging.getLogger(__name__)

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
#: group- or world-writable
_SHARED_WRITE = stat.S_IWGRP | stat.S_IWOTH
#: SQLite's companions of a database file; it gives them the database file's own mode
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
_warned: set[Path] = set()
_refused: set[Path] = set()


def prepare_state_dir(settings: Settings) -> None:
    """Create the state_dir private (``0700``) if missing; warn about loose directories.

    Raises ``NotADirectoryError`` naming the path when the state_dir is a file, so the
    command line's one line says what is wrong instead of "File exists".
    """
    ensure_private_dir(settings.state_dir)
    for target in settings.targets:
        warn_if_shared(target.workdir, f"target {target.name}'s workdir")


def ensure_private_dir(path: Path) -> None:
    """``mkdir -m 0700 -p``; an existing directory keeps its mode (it may be shared on
    purpose) but a group/world-writable one gets a warning."""
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE, parents=True)
    except FileExistsError:
        if not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR),
                                     str(path)) from None
        warn_if_shared(path, "state_dir")
        return
    path.chmod(PRIVATE_DIR_MODE)  # mkdir's mode is masked by the umask; 0700 is the intent


def warn_if_shared(path: Path, what: str) -> bool:
    """Log one warning (per path, per process) when others may write to ``path``."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False  # missing or unreadable: whoever uses it reports that
    if not stat.S_ISDIR(mode) or not mode & _SHARED_WRITE:
        return False
    if path not in _warned:
        _warned.add(path)
        log.warning("%s %s is writable by %s (mode %04o): others could plant files there; "
                    "chmod go-w %s", what, path, _who_may_write(mode), stat.S_IMODE(mode), path)
    return True


def _who_may_write(mode: int) -> str:
    if mode & stat.S_IWOTH:
        return "everyone"
    return "its group"


def make_private(path: Path) -> None:
    """Create ``path`` (if missing) as ``0600`` and tighten it and SQLite's companions.

    SQLite creates ``-wal``/``-shm`` with the database file's own mode, so a database
    file that starts ``0600`` keeps its companions ``0600`` too. A store left ``0644`` by an
    older Bubabot is tightened here, once, at open.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != PRIVATE_FILE_MODE:
            os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        try:
            companion.chmod(PRIVATE_FILE_MODE)
        except FileNotFoundError:
            continue


def open_for_append(path: Path) -> int:
    """A file descriptor for appending to ``path``, never through a symlink.

    Raises ``SymlinkRefused`` when ``path`` is a symlink (a planted link would make us
    append to whatever it points at); other ``OSError``s pass through.
    """
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
                       | os.O_CLOEXEC, 0o666)  # the umask decides, as open() did
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SymlinkRefused(path) from None
        raise


def open_for_reading(path: Path) -> int:
    """A read-only file descriptor for ``path``, never through a symlink."""
    try:
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SymlinkRefused(path) from None
        raise


class SymlinkRefused(OSError):
    """A file Bubabot writes is a symlink: refused, the link's target left untouched."""

    def __init__(self, path: Path) -> None:
        super().__init__(errno.ELOOP, "is a symlink; refusing to follow it", str(path))
        self.path = path

    def report_once(self, consequence: str) -> None:
        """One error line per path and process: a link that stays must not flood the log."""
        if self.path in _refused:
            return
        _refused.add(self.path)
        log.error("%s is a symlink: not following it, so %s; remove the link to resume",
                  self.path, consequence)


def append_whole_line(fh: BinaryIO, line: bytes) -> None:
    """Append ``line`` (ending in a newline) to the end of ``fh`` and fsync it; after a
    torn last line (a writer killed mid-line) it starts on a line of its own."""
    fh.seek(0, os.SEEK_END)
    if fh.tell() > 0:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) != b"\n":  # never glue ours onto a torn line
            line = b"\n" + line
    fh.write(line)
    fh.flush()
    os.fsync(fh.fileno())
