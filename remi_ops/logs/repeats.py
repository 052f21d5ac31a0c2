"""Records that repeat but for their timestamp, counted once decided (a full scan only).

Most records of interest in a real log are the same few errors over and over: the same
header line after the timestamp, the same traceback. Once such a record has been parsed
and counted (:meth:`~remi_ops.logs.parse.LogParser.feed_record`), what it was counted as
— its group, header fields and parsed body — depends only on its bytes after the
timestamp. :class:`RepeatedRecords` remembers that per header line (after the stamp) with
the body that followed it, so a repeat costs a dict lookup and a comparison of the body's
bytes instead of finding the record's end line by line, reading its header, and deciding
its kind and group again.

Only headers of discord.py's default layout that :func:`~remi_ops.logs.scan.plain_header`
reads from the bytes are remembered: their stamp is a fixed 22 bytes
(``[YYYY-MM-DD HH:MM:SS] ``) and nothing after it depends on it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from remi_ops.logs.parse import Counted

#: the stamp that ``scan._PLAIN_BYTES`` reads, and its length
STAMP = re.compile(rb"\[\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\] ")
STAMP_BYTES = 22
#: at most this many header lines remembered (then forgotten all at once: a log full of
#: unique lines, a track id in each, costs a dict insert per record and bounded memory)
MAX_ENTRIES = 2048
#: at most this many bodies remembered after one header line (a traceback whose line
#: numbers changed with a deploy, or that was raised from several places)
MAX_BODIES = 8
#: a record longer than this (its header line after the stamp and its body) is not kept
MAX_RECORD_BYTES = 8 * 1024


#: below this share of lookups that hit, remembering costs more than it saves (a miss
#: costs about as much as a hit saves: measured on logs of unique and of repeated records)
MIN_HIT_SHARE = 0.25
#: lookups in a window before its share of hits is judged
MIN_LOOKUPS = 64
#: windows skipped after one that did not pay, before trying again (the log may change)
WINDOWS_OFF = 8


class RepeatedRecords:
    """What records were counted as, by their header line after the stamp.

    Used window by window (:meth:`in_use`): a window where few records repeat turns it off
    for the next ``WINDOWS_OFF`` windows, so a log of unique records pays for a lookup and
    an insert per record only one window in ``WINDOWS_OFF + 1``.
    """

    __slots__ = ("_off", "_seen", "hits", "lookup", "lookups")

    def __init__(self) -> None:
        self._seen: dict[bytes, list[tuple[bytes, Counted | None]]] = {}
        #: :meth:`get` without a call of its own (the scan asks once per record of interest;
        #: the dict is only ever cleared, never replaced)
        self.lookup = self._seen.get
        self._off = 0  # windows still to skip
        self.lookups = 0  # in the current window
        self.hits = 0

    def in_use(self) -> bool:
        """Whether the next window uses it, judging by the last window that did."""
        if self._off:
            self._off -= 1
            return self._off == 0
        if self.lookups >= MIN_LOOKUPS and self.hits < self.lookups * MIN_HIT_SHARE:
            self._off = WINDOWS_OFF
            self._seen.clear()
        self.lookups = self.hits = 0
        return not self._off

    def get(self, line: bytes) -> list[tuple[bytes, Counted | None]] | None:
        """The bodies that followed ``line`` (a header line from after its stamp, with
        its newline), and what each record was counted as; None if unseen."""
        return self._seen.get(line)

    def remember(self, line: bytes, body: bytes, counted: Counted | None) -> None:
        """``line`` followed by ``body`` was counted as ``counted`` (None: as INFO)."""
        if len(line) + len(body) > MAX_RECORD_BYTES:
            return
        seen = self._seen
        bodies = seen.get(line)
        if bodies is None:
            if len(seen) >= MAX_ENTRIES:
                seen.clear()
            seen[line] = [(body, counted)]
        elif len(bodies) < MAX_BODIES:
            bodies.append((body, counted))
        else:
            bodies[-1] = (body, counted)
