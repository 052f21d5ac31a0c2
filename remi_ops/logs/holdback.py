"""Holding back the record still being written, so a traceback is never split in two.

Pure: the intake passes the bytes it has read and how long the file has been quiet; this
says where the last record starts and whether it is finished. A record is finished by the
next record's header line (it is then not the last one), by its traceback's exception
line, or by :data:`HOLD_S` of silence — long enough for a writer blocked mid-traceback
(the incident's bot paused for seconds between the pieces of one NameError traceback).

A logging record is written in one ``write()``, so any other record is finished as soon
as it is read; only a header line alone at ERROR or above is likely to be followed by its
traceback, so it waits like an unfinished traceback.
"""

from __future__ import annotations

import re

from remi_ops.logs.headers import parse_header
from remi_ops.logs.tracebacks import strip_ansi

#: an unfinished record (a traceback without its exception line) is given up waiting for
#: after this much silence from its writer
HOLD_S = 10.0
#: no header within this many bytes from the end: release everything rather than hold more
MAX_HELD_BYTES = 1024 * 1024
_TRACEBACK = re.compile(r"^\s*(?:\+ )?(?:Exception Group )?Traceback \(most recent call last\):")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?::.*)?$")
_WAITS_FOR_TRACEBACK = frozenset({"ERROR", "CRITICAL"})


def _text(line: bytes) -> str:
    text = line.decode("utf-8", "replace").rstrip("\r\n")
    return strip_ansi(text) if "\x1b" in text else text


def last_record_start(data: bytes) -> int:
    """Where the last record of ``data`` (complete lines) starts: its header line, or 0
    when no header is found within :data:`MAX_HELD_BYTES` of the end (hold it all), or
    ``len(data)`` when even that is too much to hold (release it all)."""
    end = len(data)
    floor = max(0, end - MAX_HELD_BYTES)
    while end > 0:
        start = data.rfind(b"\n", 0, end - 1) + 1
        if start < floor:
            return len(data)
        if parse_header(_text(data[start:end])) is not None:
            return start
        end = start
    return 0


def is_finished(tail: bytes, *, idle_s: float) -> bool:
    """Is the last record (``tail``: its lines, from its start) complete?

    ``idle_s`` is how long nothing was appended to its file.
    """
    if not tail.strip():
        return True
    if idle_s >= HOLD_S:
        return True
    lines = [_text(line) for line in tail.rstrip(b"\n").split(b"\n")]
    body = [line for line in lines if line.strip()]
    if any(_TRACEBACK.match(line) for line in body):
        return _ends_traceback(body[-1])
    # "Ignoring exception in command 'scan'" alone: its traceback may follow
    head = parse_header(lines[0])
    return head is None or len(body) > 1 or head.level not in _WAITS_FOR_TRACEBACK


def _ends_traceback(line: str) -> bool:
    """An exception line (``NameError: name 'asyncio' is not defined``) ends a traceback;
    a frame, source line, caret line or chain separator does not."""
    return bool(_EXCEPTION_LINE.match(line)) and not line.startswith(
        ("During handling of the above exception", "The above exception was"))
