"""Parsing a big read in slices that let the event loop in between.

A check or probe parses what it read (up to 16 MB) in a worker thread, but a single
C-level pass over megabytes (a decode, a regex search, a split) holds the GIL all the
while, and the loop of the process — Bubabot's, with discord.py's heartbeat on it — waits
for it: that was the lag spike under load. Fed in slices cut at line ends, with
``time.sleep(0)`` between them (which hands the GIL to a waiting thread), the loop waits
for one slice at most. The records are the same: the parser keeps its pending record
across feeds and only ``flush`` ends it.
"""

from __future__ import annotations

import time
from typing import Protocol

from remi_ops.domain import LogRecord

#: about a millisecond or two of parsing: the longest the loop waits for a worker's slice
SLICE_BYTES = 256 * 1024


class Feedable(Protocol):
    def feed_bytes(self, data: bytes) -> list[LogRecord]: ...


def feed_in_slices(parser: Feedable, data: bytes, slice_bytes: int = SLICE_BYTES
                   ) -> list[LogRecord]:
    """``parser.feed_bytes(data)``, a slice of whole lines at a time, yielding between."""
    if len(data) <= slice_bytes:
        return parser.feed_bytes(data)
    out: list[LogRecord] = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", min(start + slice_bytes, len(data)) - 1)
        end = len(data) if end < 0 else end + 1
        out += parser.feed_bytes(data[start:end])
        start = end
        if start < len(data):
            time.sleep(0)  # let the loop thread (and any other) take the GIL
    return out
