"""``--env-file PATH``: secrets for a service read from a ``0600`` file.

launchd has no ``EnvironmentFile=``, and a plist's ``EnvironmentVariables`` is readable by
anyone who can read the plist, so ``remi-ops`` and ``bubabot`` read the file themselves
(python-dotenv: ``KEY=value``, quotes, ``export``, comments). The file's values win over
the inherited environment, as systemd's ``EnvironmentFile=`` does over ``Environment=``.
A file that group or others may read (or write) is refused — a token in it would not be
a secret — with one line and exit 2, as a missing one is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from remi_ops.exceptions import ConfigError

#: permission bits that must be clear: anything for group or others
SHARED_BITS = stat.S_IRWXG | stat.S_IRWXO


def load_env_file(path: str | os.PathLike[str] | None) -> list[str]:
    """Put the file's variables into ``os.environ``; the names set (never the values)."""
    if path is None:
        return []
    from dotenv import dotenv_values  # noqa: PLC0415 - here: only --env-file needs it

    file = Path(path).expanduser()
    try:
        mode = file.stat().st_mode
        problem = _mode_problem(file, mode)
        values = dotenv_values(file, interpolate=False, encoding="utf-8") if not problem \
            else {}
    except OSError as exc:
        raise ConfigError([f"--env-file {file}: cannot read ({exc.strerror or exc})"]) \
            from None
    except UnicodeDecodeError:
        raise ConfigError([f"--env-file {file}: not UTF-8 text"]) from None
    if problem:
        raise ConfigError([problem])
    names = []
    for name, value in values.items():
        if value is not None:  # a bare ``NAME`` line sets nothing
            os.environ[name] = value
            names.append(name)
    return names


def _mode_problem(file: Path, mode: int) -> str:
    if not stat.S_ISREG(mode):
        return f"--env-file {file}: not a regular file"
    if mode & SHARED_BITS:
        return (f"--env-file {file}: group or others may read it or write it (mode "
                f"{stat.S_IMODE(mode):04o}); it holds secrets: chmod 600 {file}")
    return ""
