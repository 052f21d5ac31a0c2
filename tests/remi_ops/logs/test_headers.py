"""Record headers: every supported layout, and lines that only look like one."""

from __future__ import annotations

import pytest

from remi_ops.logs.error_groups import parse_header, strip_ansi

# --------------------------------------------------------------------------- layouts


@pytest.mark.parametrize(("line", "expected"), [
    ("[2026-01-02 03:04:05] [INFO    ] discord.gateway: Shard ID None has connected",
     ("2026-01-02 03:04:05", "INFO", "discord.gateway", "Shard ID None has connected")),
    ("[2026-01-02 03:04:05] [CRITICAL] remi: down: really", (
        "2026-01-02 03:04:05", "CRITICAL", "remi", "down: really")),
    ("2026-01-02 03:04:05 WARNING  discord.gateway Shard ID None heartbeat blocked",
     ("2026-01-02 03:04:05", "WARNING", "discord.gateway", "Shard ID None heartbeat blocked")),
    ("INFO:discord.client:logging in using static token",
     ("", "INFO", "discord.client", "logging in using static token")),
    ("ERROR:root:boom: with colon", ("", "ERROR", "root", "boom: with colon")),
    ("2026-01-02 03:04:05,123 ERROR remi.scan: Scan failed",
     ("2026-01-02 03:04:05", "ERROR", "remi.scan", "Scan failed")),
    ("2026-01-02 03:04:05,123 - remi.scan - WARNING - slow scan",
     ("2026-01-02 03:04:05", "WARNING", "remi.scan", "slow scan")),
    ("[2026-01-02 03:04:05] [INFO    ] discord.client:", (
        "2026-01-02 03:04:05", "INFO", "discord.client", "")),
])
def test_header_layouts(line: str, expected: tuple[str, str, str, str]) -> None:
    """Each supported layout yields timestamp, level, logger and message."""
    assert tuple(parse_header(line) or ()) == expected


@pytest.mark.parametrize("line", [
    "[scan] user 1184729384756 scanning https://soundcloud.com/remi/likes",
    "Traceback (most recent call last):",
    '  File "/x.py", line 1, in <module>',
    "NameError: name 'asyncio' is not defined",
    "During handling of the above exception, another exception occurred:",
    "INFO is great",
    "2026-01-02 not a header",
    "",
])
def test_non_headers(line: str) -> None:
    """Prints, traceback lines and look-alikes are not record headers."""
    assert parse_header(line) is None


def test_strip_ansi() -> None:
    """discord.py's colour codes disappear, text stays."""
    raw = "\x1b[30;1m2026-01-02 03:04:05\x1b[0m \x1b[34;1mINFO    \x1b[0m \x1b[35mdiscord\x1b[0m m"
    assert strip_ansi(raw) == "2026-01-02 03:04:05 INFO     discord m"
    assert strip_ansi("plain") == "plain"
