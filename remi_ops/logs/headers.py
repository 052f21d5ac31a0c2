"""A log record's first line, and log bytes as lines: what the parser and the scan share.

Layouts recognised (ANSI colours are stripped first):

- discord.py default: ``[2026-01-02 03:04:05] [INFO    ] discord.gateway: msg``
- discord.py colour (TTY or Docker): ``2026-01-02 03:04:05 INFO     discord.gateway msg``
- ``logging.basicConfig``: ``INFO:discord.gateway:msg``
- ``2026-01-02 03:04:05,123 INFO discord.gateway: msg`` and
  ``2026-01-02 03:04:05,123 - discord.gateway - INFO - msg``

Both :mod:`remi_ops.logs.parse` (line by line) and :mod:`remi_ops.logs.scan` (the bulk fast
path) find record boundaries with :func:`parse_header`; keeping it here lets the parser use
the scan without the scan reaching back into the parser.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from remi_ops.logs.tracebacks import strip_ansi

_LEVEL = r"(DEBUG|INFO|WARNING|ERROR|CRITICAL)"
_TS = r"(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)"
_PLAIN = re.compile(rf"\[{_TS}\] \[{_LEVEL} *\] (\S+?):(?: (.*))?\Z")
_TS_NAME = re.compile(rf"{_TS}(?:[,.]\d{{1,6}})? +{_LEVEL} +(\S+?):(?: (.*))?\Z")
_TS_DASH = re.compile(rf"{_TS}(?:[,.]\d{{1,6}})? - (\S+) - {_LEVEL} - (.*)\Z")
_TS_COLOUR = re.compile(rf"{_TS} {_LEVEL} +(\S+)(?: (.*))?\Z")
_BASIC = re.compile(rf"{_LEVEL}:([^:]*):(.*)\Z")


class Header(NamedTuple):
    """The fields of a record's first line."""

    timestamp: str  # "2026-01-02 03:04:05", or "" when the layout has none
    level: str
    logger: str
    message: str


def parse_header(line: str) -> Header | None:
    """The header fields when ``line`` (ANSI already stripped) starts a record, else None."""
    first = line[:1]
    if first == "[":
        m = _PLAIN.match(line)
        return Header(m[1], m[2], m[3], m[4] or "") if m else None
    if first.isdigit():
        m = _TS_NAME.match(line)
        if m:
            return Header(m[1], m[2], m[3], m[4] or "")
        m = _TS_DASH.match(line)
        if m:
            return Header(m[1], m[3], m[2], m[4])
        m = _TS_COLOUR.match(line)
        return Header(m[1], m[2], m[3], m[4] or "") if m else None
    if first in ("D", "I", "W", "E", "C"):
        m = _BASIC.match(line)
        return Header("", m[1], m[2], m[3]) if m else None
    return None


def clean_line(line: str) -> str:
    """``line`` without ANSI colours and without the ``\\r`` of a CRLF ending."""
    if "\x1b" in line:
        line = strip_ansi(line)
    return line[:-1] if line.endswith("\r") else line


def decode_lines(data: bytes) -> list[str]:
    """Complete lines of ``data`` decoded as UTF-8 (invalid bytes replaced)."""
    if not data:
        return []
    lines = data.decode("utf-8", "replace").split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines
