"""The fast path of :meth:`LogParser.feed_bytes` with ``keep_info=False``.

Almost every line of a healthy log is an INFO/DEBUG record of the bot's own loggers,
and the classifier never turns those into anything but INFO. So instead of decoding and
parsing every line, the bytes are searched for what a record of interest must contain (a
level that matters, a ``discord`` logger, ``Traceback``) at C speed, and only the records
around a hit are parsed, from their header to the next header. The search is lazy: it goes
on from where the last parsed record ended, so the many ``discord`` and ``Error`` inside a
traceback are never visited (:class:`_Hits`). The result equals the line-by-line parser's
output without its INFO records (a property test checks it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from remi_ops.logs.headers import Header, decode_lines, parse_header
from remi_ops.logs.repeats import STAMP, STAMP_BYTES, RepeatedRecords
from remi_ops.logs.tracebacks import strip_ansi

if TYPE_CHECKING:
    from remi_ops.domain import LogRecord
    from remi_ops.logs.parse import LogParser

#: what the scan reads: a block of a log, or a reused buffer holding one (a full scan's)
Bytes = bytes | bytearray
#: A record is worth parsing only if one of these occurs in it (see remi_ops.logs.kinds).
NEEDLES = (b"Traceback (most recent call last):", b"WARNING", b"ERROR", b"CRITICAL",
           b"discord")
#: The loud levels share the letter R, which INFO and DEBUG lack: one memchr pass for R
#: finds them all (each word has one R at a known place), cheaper than three word searches.
_LEVELS = ((b"ERROR", 1), (b"WARNING", 2), (b"CRITICAL", 1))
#: R's that are not in a level word (Remi's own INFO text may have many) before a window
#: goes back to searching the words themselves
_R_MISSES_PER_WINDOW = 2048
#: ``discord`` searched by the regex engine, whose loop over the bytes for the needle's first
#: letter beats ``bytes.find`` on log text (57 against 69 ms per 150 MB, the whole text; ~2 %
#: of a scan): ``find``'s skip table is indexed by a byte's low 6 bits, so the digits 2 and 3
#: of every timestamp share the slots of the needle's r and s and keep its steps short
_DISCORD = re.compile(re.escape(NEEDLES[4]))
_HEADER_FIRST = frozenset(b"[0123456789DIWEC\x1b")
#: a line that may start a record: the first characters of the layouts' header lines, but
#: not a traceback's "During handling of the above exception" (a D that is no DEBUG:, and
#: no colour code can hide one inside "During ")
_MAYBE_HEADER = re.compile(rb"\n(?=[\[0-9IWEC\x1b]|D(?!uring ))")
_WINDOW = 4 * 1024 * 1024
#: a line starting with one of these letters is a header only in the basic layout
#: (``LEVEL:logger:message``; the others start with "[" or a digit), so only after a level
_BASIC_FIRST = frozenset(b"DIWEC")
_BASIC_LEVELS = (b"DEBUG:", b"INFO:", b"WARNING:", b"ERROR:", b"CRITICAL:")
#: discord.py's default layout read straight from the bytes, when that is sure to give
#: what :func:`~remi_ops.logs.headers.parse_header` gives on the decoded line: ASCII up to
#: the message, no ANSI colour and no CR but the line's last; anything else (other layouts,
#: other digits or spaces) goes through the decoded line. Most header lines take this path.
_PLAIN_BYTES = re.compile(rb"\[(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)\] "
                          rb"\[(DEBUG|INFO|WARNING|ERROR|CRITICAL) *\] ([!-~]+?):"
                          rb"(?: ([^\n\r\x1b]*))?\r?\n")
_LEVEL_NAMES = {name.encode(): name for name in ("DEBUG", "INFO", "WARNING", "ERROR",
                                                 "CRITICAL")}
#: Whether a line starts a record in the default layout depends only on its start: up to
#: the logger's colon and what follows it (a space, or the line's end). Checked without
#: reading the message; a line this does not match may still be a header (decoded then).
_PLAIN_START = re.compile(rb"\[\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\] "
                          rb"\[(?:DEBUG|INFO|WARNING|ERROR|CRITICAL) *\] [!-~]+?:(?: |\r?\n)")


def scan_bytes(parser: LogParser, data: Bytes, n: int | None = None) -> list[LogRecord]:
    """Feed complete lines (``data[:n]``, all of it by default) to ``parser``, skipping
    records that can only be INFO."""
    out: list[LogRecord] = []
    start, n = 0, len(data) if n is None else n
    while start < n:
        end = min(n, start + _WINDOW)
        if end < n:
            nl = data.rfind(b"\n", start, end)
            if nl < 0:
                nl = data.find(b"\n", end, n)  # not past n: a reused buffer may go on
            end = n if nl < 0 else nl + 1
        _Window(parser, data, start, end, out).run()
        start = end
    return out


def plain_header(data: Bytes, a: int, end: int) -> Header | None:
    """The header of the line at ``data[a:]`` read from the bytes, when it is in discord.py's
    default layout and plainly so (see ``_PLAIN_BYTES``); None says "parse the decoded line"
    (it may still be a header)."""
    m = _PLAIN_BYTES.match(data, a, end)
    if m is None:
        return None
    stamp, level, logger, message = m.groups()
    return Header(stamp.decode(), _LEVEL_NAMES[level], logger.decode(),
                  message.decode("utf-8", "replace") if message else "")


class _Window:
    """One stretch of whole lines, ``data[start:end]``."""

    def __init__(self, parser: LogParser, data: Bytes, start: int, end: int,
                 out: list[LogRecord]) -> None:
        self.parser = parser
        self.data = data
        self.start = start
        self.end = end
        self.out = out
        self._memo: tuple[int, Header | None] = (-1, None)
        self._plain_at = -1  # the last line whose header was read from the bytes
        self._line: tuple[int, bytes] = (-1, b"")  # a header line after its stamp, by start
        #: while counting: records that repeat but for their stamp (remi_ops.logs.repeats)
        self._repeats = (parser.repeats if parser.counts is not None
                         and parser.repeats.in_use() else None)

    def run(self) -> None:
        parser, pos = self.parser, self.start
        carry, parser.carry = parser.carry, b""
        if not self._is_header(pos):
            for line in decode_lines(carry):  # the skipped record these lines continue
                parser.feed_line(line, self.out)
            pos = self._feed_until_header(pos, first=False)
        parser.mark_read()
        data, end = self.data, self.end
        next_hit, rfind = _Hits(data, end).next, data.rfind
        repeats = self._repeats
        while (hit := next_hit(pos)) < end:
            line_start = rfind(b"\n", pos, hit) + 1 or pos
            if repeats is not None and (b := self._repeat(line_start, repeats)):
                pos = b
                continue
            record_start = self._record_start(max(line_start, pos), pos)
            if record_start > pos:
                parser.finish(self.out)  # what lies between were INFO records: skipped
            pos = self._record(record_start)
        if pos < self.end:
            parser.finish(self.out)
            parser.carry = bytes(self.data[self._record_start(self._last_line(), pos):self.end])

    def _record(self, a: int) -> int:
        """Parse the record whose header line starts at ``a``; return where the next starts.

        A record that may go on in the next chunk is fed line by line (it stays pending).
        """
        head = self._header(a)
        e = self.data.find(b"\n", a, self.end)
        b = self._next_header(e + 1) if e >= 0 else self.end
        if head is not None and b < self.end:
            body = bytes(self.data[e + 1:b])  # a key: bytes also from a bytearray
            if self.parser.feed_record(head, body, self.out):
                if self._repeats is not None and self._plain_at == a:
                    line_at, line = self._line
                    self._repeats.remember(line if line_at == a else
                                           bytes(self.data[a + STAMP_BYTES:e + 1]), body,
                                           self.parser.counted)
                return b
        return self._feed_until_header(a, first=True)

    def _repeat(self, a: int, repeats: RepeatedRecords) -> int:
        """Count the record at ``a`` if it repeats one counted before but for its stamp
        (the same header line after it, the same body up to a header line); return where
        the next record starts, or 0 when it is not such a repeat."""
        data, end = self.data, self.end
        e = data.find(b"\n", a, end)
        if e < 0:
            return 0
        line = bytes(data[a + STAMP_BYTES:e + 1])  # a key (see _record)
        known = repeats.lookup(line)
        repeats.lookups += 1
        if known is None:
            self._line = (a, line)  # what _record remembers, if it counts the record whole
            return 0
        if STAMP.match(data, a, e) is None:
            return 0
        for body, counted in known:
            b = e + 1 + len(body)
            # the lines of the body were none a header then, nor are they now
            if b < end and data[b] in _HEADER_FIRST and data.startswith(body, e + 1) \
                    and (_PLAIN_START.match(data, b, end) is not None
                         or self._starts_other(b)):
                self.parser.count_again(data[a + 1:a + STAMP_BYTES - 2].decode(), counted,
                                        self.out)
                repeats.hits += 1
                return b
        self._line = (a, line)
        return 0

    def _next_header(self, b: int) -> int:
        """The start of the first header line at or after ``b`` (or the window's end)."""
        data, end = self.data, self.end
        while b < end:
            if data[b] in _HEADER_FIRST and (_PLAIN_START.match(data, b, end) is not None
                                             or self._starts_other(b)):
                return b
            m = _MAYBE_HEADER.search(data, b, end)
            if m is None:
                return end
            b = m.start() + 1
        return end

    def _line_end(self, a: int) -> int:
        e = self.data.find(b"\n", a, self.end)
        return self.end if e < 0 else e

    def _header(self, a: int) -> Header | None:
        """The header fields if the line at ``a`` starts a record (remembered per line)."""
        if a >= self.end or self.data[a] not in _HEADER_FIRST:
            return None
        if self._memo[0] == a:
            return self._memo[1]
        head = plain_header(self.data, a, self.end)
        if head is not None:
            self._memo = (a, head)
            self._plain_at = a
            return head
        line = strip_ansi(self.data[a:self._line_end(a)].decode("utf-8", "replace"))
        head = parse_header(line[:-1] if line.endswith("\r") else line)
        self._memo = (a, head)
        return head

    def _starts_record(self, a: int) -> bool:
        """``_is_header(a)``, answered from the bytes when they are plain enough: the
        default layout, or a line that starts like a basic-layout header's level but is
        none (``During handling …``) and has no colour code that could hide one."""
        return _PLAIN_START.match(self.data, a, self.end) is not None or self._starts_other(a)

    def _starts_other(self, a: int) -> bool:
        """``_starts_record(a)`` for a line that is not plainly a default-layout header
        (what hot loops call after their own ``_PLAIN_START`` test)."""
        data = self.data
        if data[a] in _BASIC_FIRST and not data.startswith(_BASIC_LEVELS, a):
            e = data.find(b"\n", a, self.end)
            if data.find(b"\x1b", a, self.end if e < 0 else e) < 0:
                return False
        return self._is_header(a)

    def _is_header(self, a: int) -> bool:
        return self._header(a) is not None

    def _record_start(self, a: int, floor: int) -> int:
        """Back from line ``a`` over continuation lines to the header that owns them."""
        while a > floor and not self._is_header(a):
            a = self.data.rfind(b"\n", floor, a - 1) + 1 or floor
        return max(a, floor)

    def _last_line(self) -> int:
        return self.data.rfind(b"\n", self.start, self.end - 1) + 1 or self.start

    def _feed_until_header(self, a: int, *, first: bool) -> int:
        """Feed the line at ``a`` (when ``first``) and then lines up to the next header."""
        data, feed, out = self.data, self.parser.feed_line, self.out
        while a < self.end:
            if not first and self._is_header(a):
                return a
            first = False
            e = self._line_end(a)
            feed(data[a:e].decode("utf-8", "replace"), out)
            a = e + 1
        return self.end


class _Hits:
    """Where the next record of interest may be, searched lazily from a position.

    Each needle's next occurrence is remembered and searched again only once the parse
    has gone past it, so text inside records already parsed is never searched twice.
    """

    def __init__(self, data: Bytes, end: int) -> None:
        self.data = data
        self.end = end
        self._misses = 0
        #: ``next(pos)``: the first hit at or after ``pos`` (``end`` when there is none)
        self.next = self._searcher()

    def _searcher(self) -> Callable[[int], int]:
        """``next``, as a closure over the next occurrence of each needle: it runs once per
        record of interest, so its state is in local cells, not attributes and a list."""
        data, end, level = self.data, self.end, self._level()
        find, search, traceback = data.find, _DISCORD.search, NEEDLES[0]
        tb = discord = loud = -1

        def next_hit(pos: int) -> int:
            nonlocal tb, discord, loud
            if tb < pos:
                tb = find(traceback, pos, end)
                if tb < 0:
                    tb = end
            if discord < pos:
                m = search(data, pos, end)
                discord = end if m is None else m.start()
            if loud < pos:
                loud = level(pos)
            first = tb if tb < discord else discord
            return first if first < loud else loud
        return next_hit

    def _level(self) -> Callable[[int], int]:
        """A function giving the next WARNING, ERROR or CRITICAL, found through their R."""
        data, end, find, levels = self.data, self.end, self.data.find, _LEVELS

        def next_level(pos: int) -> int:
            while self._misses <= _R_MISSES_PER_WINDOW:
                i = find(b"R", pos, end)
                if i < 0:
                    return end
                for word, offset in levels:
                    if i - offset >= pos and data.startswith(word, i - offset):
                        return i - offset
                self._misses += 1
                pos = i + 1
            found = [find(word, pos, end) for word in NEEDLES[1:4]]
            return min((i for i in found if i >= 0), default=end)
        return next_level
