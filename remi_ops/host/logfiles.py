"""Which files a process really writes: its stdout/stderr targets and its open logs.

After a logrotate ``create`` rotation Remi's fd 2 still points at the renamed file
(``bot_error.log.1``) until it restarts; reading the configured path alone would go blind.
On Linux the fd's target is read from ``/proc/PID/fd/N`` (cheap: one ``readlink``);
elsewhere from psutil's ``open_files()``. A bot that logs through its own
``logging.FileHandler('discord.log')`` shows up in ``open_files()`` too, which is how
``remi-ops doctor`` names a log nobody watches.

Calls block (``/proc``, psutil); callers run them in threads. Unknown answers are empty,
never an error: a vanished or foreign process simply has nothing to follow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil

#: the fds whose files are Remi's stdout and stderr logs
STD_FDS = {"stdout": 1, "stderr": 2}
_DELETED = " (deleted)"
#: names that look like a log file (``discord.log``, ``bot.log.1``, ``remi.log.2026-01-24``)
_LOG_MARKS = (".log", ".err", ".out")


def std_targets(pid: int) -> dict[str, Path]:
    """``{"stdout": path, "stderr": path}`` for those of the process's fd 1/2 that are
    regular files still on disk (a pipe, a terminal or a deleted file is left out)."""
    proc = Path(f"/proc/{pid}/fd")
    if proc.is_dir():
        return _from_proc(proc)
    found: dict[str, Path] = {}
    by_fd = {f.fd: Path(f.path) for f in _open_files(pid)}
    for stream, fd in STD_FDS.items():
        if fd in by_fd:
            found[stream] = by_fd[fd]
    return found


def _from_proc(proc: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for stream, fd in STD_FDS.items():
        try:
            target = str((proc / str(fd)).readlink())
        except OSError:
            continue
        if target.startswith("/") and not target.endswith(_DELETED) and Path(target).is_file():
            found[stream] = Path(target)
    return found


def open_logs(pid: int) -> list[Path]:
    """Log-like files the process has open for writing, in fd order, each once."""
    seen: dict[Path, None] = {}
    for f in sorted(_open_files(pid), key=lambda f: f.fd):
        path = Path(f.path)
        writing = getattr(f, "mode", "w") != "r"  # mode is reported on Linux only
        if writing and any(mark in path.name for mark in _LOG_MARKS):
            seen.setdefault(path)
    return list(seen)


def _open_files(pid: int) -> list[Any]:
    """psutil's ``popenfile`` tuples (path, fd, and on Linux mode)."""
    try:
        return list(psutil.Process(pid).open_files())
    except (psutil.Error, OSError):
        return []
