"""Reading a systemd unit file: its ``Key=value`` settings and the argv of ``ExecStart=``.

Enough of systemd's syntax to see what an existing unit runs (an old watchdog's) and to
check our own: comments, sections, continuation lines, the ``-@:+!`` prefixes, quoting,
and ``%%``/``$$``. Specifiers other than ``%h`` are left as they are.
"""

from __future__ import annotations

import shlex
from pathlib import Path

#: ExecStart= prefixes that change how it runs, not what
_EXEC_PREFIXES = "-@:+!"


def unit_settings(text: str) -> dict[str, list[str]]:
    """Every ``Key=value`` of the file, in order of appearance per key (sections merged)."""
    settings: dict[str, list[str]] = {}
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line.startswith(("#", ";", "[")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def exec_start(text: str, home: Path) -> list[str]:
    """The argv of the unit's (first) ``ExecStart=``; [] when it has none or is unreadable."""
    values = unit_settings(text).get("ExecStart") or [""]
    command = values[0].lstrip(_EXEC_PREFIXES)
    try:
        words = shlex.split(command)
    except ValueError:  # an unbalanced quote: not a unit we can read
        return []
    return [w.replace("%h", str(home)).replace("%%", "%").replace("$$", "$") for w in words]


def working_directory(text: str, home: Path) -> Path | None:
    """The unit's ``WorkingDirectory=`` (``~`` and ``%h`` expanded), or None."""
    values = unit_settings(text).get("WorkingDirectory")
    if not values:
        return None
    value = values[0].lstrip("-")
    if value in ("~", "%h"):
        return home
    return Path(value.replace("%h", str(home)).replace("%%", "%"))
