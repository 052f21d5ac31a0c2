"""Durations as people write and read them: ``15m`` in, ``4m 12s`` out.

One parser for every place a person types a duration (the CLI, Bubabot's fixed choices)
and one formatter for every place one is shown (plain text, alert titles, embeds).
"""

from __future__ import annotations

import re

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``4h``, ``7d``, ``1w`` → seconds (``ValueError`` otherwise)."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 4h, 7d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def format_duration(seconds: float | None) -> str:
    """``4.2s`` / ``42s`` / ``4m 12s`` / ``3h 04m`` / ``2d 05h``; ``–`` when unknown.

    Under ten seconds a tenth still matters (a restart, a scan test); above it, it does not.
    """
    if seconds is None:
        return "–"
    if seconds < 10:
        return f"{max(seconds, 0.0):.1f}s"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 24:
        return f"{hours // 24}d {hours % 24:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
