"""Parse Remi's log lines into :class:`LogRecord`s and say what each one means.

Layouts recognised (ANSI colours are stripped first):

- discord.py default: ``[2026-01-02 03:04:05] [INFO    ] discord.gateway: msg``
- discord.py colour (TTY or Docker): ``2026-01-02 03:04:05 INFO     discord.gateway msg``
- ``logging.basicConfig``: ``INFO:discord.gateway:msg``
- ``2026-01-02 03:04:05,123 INFO discord.gateway: msg`` and
  ``2026-01-02 03:04:05,123 - discord.gateway - INFO - msg``

A line that is not a header continues the record before it: a header record owns every
line up to the next header (multi-line messages, its traceback, a heartbeat warning's
"Loop thread traceback"). Without a header (stdout prints, tracebacks the interpreter
printed) a line stands alone, except that it owns a ``Traceback`` that follows at once,
and a bare traceback ends at the first unindented line after its exception line. A new
``Traceback`` after a complete one (no "During handling …" between) starts a new record.

What a record means is decided by :mod:`remi_ops.logs.kinds`; it never depends on INFO/DEBUG
lines of loggers outside ``discord``, which lets :meth:`LogParser.feed_bytes` skip them in
bulk (see :mod:`remi_ops.logs.scan`).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import NamedTuple

from remi_ops.domain import LogKind, LogRecord
from remi_ops.logs.kinds import FATAL, gateway_state, is_timeout_type, kind_of
from remi_ops.logs.tracebacks import (
    GROUPED_KINDS,
    ExceptionBlock,
    fingerprint,
    main_block,
    parse_traceback_parts,
    strip_ansi,
)

__all__ = ["LogParser", "classify", "gateway_state", "parse_header", "strip_ansi"]

_LEVEL = r"(DEBUG|INFO|WARNING|ERROR|CRITICAL)"
_TS = r"(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)"
_PLAIN = re.compile(rf"\[{_TS}\] \[{_LEVEL} *\] (\S+?):(?: (.*))?\Z")
_TS_NAME = re.compile(rf"{_TS}(?:[,.]\d{{1,6}})? +{_LEVEL} +(\S+?):(?: (.*))?\Z")
_TS_DASH = re.compile(rf"{_TS}(?:[,.]\d{{1,6}})? - (\S+) - {_LEVEL} - (.*)\Z")
_TS_COLOUR = re.compile(rf"{_TS} {_LEVEL} +(\S+)(?: (.*))?\Z")
_BASIC = re.compile(rf"{_LEVEL}:([^:]*):(.*)\Z")

TB_EXC = re.compile(r"^\s*(?:\+ )?(?:Exception Group )?Traceback \(most recent call last\):")
TB_ANY = re.compile(rf"{TB_EXC.pattern}|^(?:Loop thread traceback|Stack) \(most recent call "
                    r"last\):")
_SEPARATOR = re.compile(r"^(?:During handling of the above exception|The above exception was "
                        r"the direct cause)")
_FILE = re.compile(r'^\s*File "')
_MOST_RECENT = "(most recent call last):"

_MAX_MESSAGE = 65536
_MAX_CONTINUATION = 8192
_HEAD_LINES = 300
_TAIL_LINES = 200
_BODY_CACHE = 1024  # entries, each at most _BODY_CACHE_TEXT bytes
_BODY_CACHE_TEXT = 16 * 1024

# traceback progress of a pending record
_NONE, _FRAMES, _EXC, _SEP = range(4)


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


def classify(level: str, logger: str, message: str, traceback: str = "") -> LogKind:
    """The kind of a record (see :class:`LogKind`); FATAL_CONFIG wins over CRASH."""
    lines = [_clean(line) for line in traceback.split("\n")] if traceback else []
    body = _analyze(lines, owner=True)  # a "Traceback …" line makes it an exception
    return body.kind(level, logger, message.split("\n", 1)[0])[0]


# --------------------------------------------------------------------------- the parser


@dataclass(slots=True)
class _Pending:
    """A record being assembled: its header (if any) and continuation lines."""

    level: str = ""
    logger: str = ""
    timestamp: str = ""
    first: str = ""  # the header's message, or a level-less line
    owner: bool = False  # started by a header
    head: list[str] = field(default_factory=list)
    tail: deque[str] | None = None  # created when the head is full
    omitted: int = 0
    tb: int = _NONE

    def accepts(self, line: str) -> bool:
        """Does this non-header line continue the record?"""
        exc_start = _MOST_RECENT in line and TB_EXC.match(line) is not None
        if exc_start and self.tb == _EXC:
            return False  # a second, separate traceback
        if self.owner or self.tb == _FRAMES:
            return True
        if self.tb == _NONE:
            return exc_start and not self.head
        if self.tb == _EXC:
            return not line or line[0] in " \t" or _SEPARATOR.match(line) is not None
        return not line.strip() or exc_start  # _SEP

    def add(self, line: str) -> None:
        """Append a continuation line (bounded: head, omission count, tail)."""
        if len(line) > _MAX_CONTINUATION:
            line = line[:_MAX_CONTINUATION] + " …[cut]"
        if _MOST_RECENT in line and TB_ANY.match(line):
            self.tb = _FRAMES
        elif self.tb == _FRAMES and line and line[0] not in " \t":
            self.tb = _EXC
        elif self.tb == _EXC and line[:4] in ("Duri", "The ") and _SEPARATOR.match(line):
            self.tb = _SEP
        if len(self.head) < _HEAD_LINES:
            self.head.append(line)
        else:
            if self.tail is None:
                self.tail = deque(maxlen=_TAIL_LINES)
            if len(self.tail) == _TAIL_LINES:
                self.omitted += 1
            self.tail.append(line)

    def lines(self) -> list[str]:
        lines = self.head + ([f"… [{self.omitted} lines omitted] …"] if self.omitted else [])
        lines += self.tail or ()
        while lines and not lines[-1].strip():
            lines.pop()
        return lines


@dataclass(frozen=True)
class _Body:
    """What a record's continuation lines hold; computed once per distinct text."""

    extra: str  # message lines after the first, each preceded by "\n"
    traceback: str
    blocks: tuple[ExceptionBlock, ...]
    has_exc: bool  # an exception traceback (not just a stack)
    main: ExceptionBlock | None
    parts: tuple[str, ...]  # stack fingerprint parts
    fatal: bool = False  # an exception of the chain: restarting cannot help (bad token …)
    timeout: bool = False  # the exception shown is a timeout
    _fps: dict[bool, str] = field(default_factory=dict, compare=False, repr=False)

    def kind(self, level: str, logger: str, first: str) -> tuple[LogKind, float | None]:
        """The record's kind (and seconds blocked) given its header and first line."""
        if not self.has_exc:
            return kind_of(level, logger, first)
        return kind_of(level, logger, first, has_exc=True, exc_fatal=self.fatal,
                       exc_timeout=self.timeout)

    def fingerprint(self, kind: LogKind, logger: str, message: str) -> str:
        """The record's group key, the stack part computed once per body."""
        if kind not in GROUPED_KINDS:
            return ""
        if not (self.has_exc or kind is LogKind.HANG) or not self.parts:
            return fingerprint(kind, logger, message, parts=())
        key = kind is LogKind.HANG
        cached = self._fps.get(key)
        if cached is None:
            cached = self._fps[key] = fingerprint(kind, logger, message, parts=self.parts)
        return cached


def _analyze(lines: list[str], owner: bool) -> _Body:
    """Split continuation lines into message and traceback and parse the traceback."""
    if not lines:
        return _NO_BODY
    if owner:
        idx = next((i for i, line in enumerate(lines)
                    if _MOST_RECENT in line and TB_ANY.match(line)), len(lines))
        extra = "".join("\n" + line for line in lines[:idx])
        tb_lines = lines[idx:]
    else:
        extra, tb_lines = "", lines
    traceback = "\n".join(tb_lines)
    blocks, parts = parse_traceback_parts(traceback) if traceback else ((), ())
    has_exc = bool(tb_lines) and (not owner or any(
        _MOST_RECENT in x and TB_EXC.match(x) for x in tb_lines))
    if not has_exc:
        return _Body(extra, traceback, blocks, False, None, parts)
    main = main_block(blocks)
    fatal = any(FATAL.search(b.title) for b in blocks if b.exc_type)
    timeout = main is not None and (is_timeout_type(main.exc_type)
                                    or "timed out" in main.exc_message)
    return _Body(extra, traceback, blocks, True, main, parts, fatal, timeout)


_NO_BODY = _Body("", "", (), False, None, ())


def _splits(lines: list[str]) -> bool:
    """Would a record owning these lines hand one of them to a new record?

    That happens only at a second ``Traceback`` right after a complete one (the state
    machine of ``_Pending.accepts``/``add``, for an owner record).
    """
    state = _NONE
    for line in lines:
        if _MOST_RECENT in line and TB_ANY.match(line):
            if state == _EXC and TB_EXC.match(line):
                return True
            state = _FRAMES
        elif state == _FRAMES and line and line[0] not in " \t":
            state = _EXC
        elif state == _EXC and line[:4] in ("Duri", "The ") and _SEPARATOR.match(line):
            state = _SEP
    return False


def _clean(line: str) -> str:
    if "\x1b" in line:
        line = strip_ansi(line)
    return line[:-1] if line.endswith("\r") else line


class LogParser:
    """Streaming parser: feed lines (or bytes), get records; ``flush()`` ends the last one.

    A record is only complete when the next one starts, so the last record of a feed stays
    pending: keep the parser between checks, or call :meth:`flush` at the end of a chunk.
    ``keep_info=False`` drops INFO records (and lets :meth:`feed_bytes` skip them in bulk).
    Timestamps are read in ``tz`` (the bot machine's zone) and returned in UTC.
    """

    def __init__(self, *, source: str = "", tz: tzinfo = UTC, keep_info: bool = True) -> None:
        self.source = source
        self.tz = tz
        self.keep_info = keep_info
        self._cur: _Pending | None = None
        self._fresh = True  # nothing read yet: a leading "File" line is a cut traceback
        self._ts_cache: tuple[str, datetime | None] = ("", None)
        self._bodies: dict[bytes, _Body] = {}
        #: fast path (:mod:`remi_ops.logs.scan`): the last skipped record, kept in case the
        #: next chunk starts with lines that continue it
        self.carry = b""

    # ------------------------------------------------------------------ public

    def feed(self, lines: str | Iterable[str]) -> list[LogRecord]:
        """Parse one line, a block of text, or an iterable of lines (without newlines).

        Returns the records completed by them; the last one stays pending.
        """
        if isinstance(lines, str):
            lines = lines.split("\n")[:-1] if lines.endswith("\n") else lines.split("\n")
        out: list[LogRecord] = []
        for line in lines:
            self.feed_line(line, out)
        return out

    def feed_bytes(self, data: bytes) -> list[LogRecord]:
        """Parse complete lines as bytes (a :class:`~remi_ops.logs.tail.TailChunk`'s ``data``).

        With ``keep_info=False`` INFO/DEBUG lines of non-discord loggers are skipped without
        being decoded, which is what makes a full scan of a big log fast.
        """
        from remi_ops.logs.scan import scan_bytes  # noqa: PLC0415 - logscan imports this module

        if self.keep_info:
            return self.feed(decode_lines(data))
        return scan_bytes(self, data)

    def flush(self) -> list[LogRecord]:
        """Complete the pending record (end of a chunk or of the file)."""
        out: list[LogRecord] = []
        self.finish(out)
        self.carry = b""
        self._fresh = True
        return out

    # ------------------------------------------------------------------ per line

    def feed_line(self, line: str, out: list[LogRecord]) -> None:
        """Process one line, appending completed records to ``out``."""
        line = _clean(line)
        fresh, self._fresh = self._fresh, False
        header = parse_header(line)
        if header is not None:
            self.finish(out)
            self._cur = _Pending(header.level, header.logger, header.timestamp,
                                 header.message[:_MAX_MESSAGE], owner=True)
            return
        cur = self._cur
        if cur is not None and cur.accepts(line):
            cur.add(line)
            return
        self.finish(out)
        if not line.strip():
            return
        if TB_EXC.match(line) or (fresh and _FILE.match(line)):
            self._cur = _Pending()
            self._cur.add(line)
            if self._cur.tb == _NONE:  # a traceback cut at its head: frames follow
                self._cur.tb = _FRAMES
        else:
            self._cur = _Pending(first=line[:_MAX_MESSAGE])

    def finish(self, out: list[LogRecord]) -> None:
        """Complete the pending record, if any."""
        cur, self._cur = self._cur, None
        if cur is None:
            return
        record = self._build(cur)
        if self.keep_info or record.kind is not LogKind.INFO:
            out.append(record)

    def mark_read(self) -> None:
        """Something was read: a later ``File "…"`` line is no longer a cut traceback."""
        self._fresh = False

    @property
    def pending(self) -> bool:
        """Is a record waiting for its end?"""
        return self._cur is not None

    # ------------------------------------------------------------------ building

    def feed_record(self, head: Header, body: bytes, out: list[LogRecord]) -> bool:
        """A whole record at once: its parsed header line and the lines after it up to (not
        including) the next header. Equal to feeding the lines one by one, but the body
        is parsed once per distinct text (repeats of a traceback cost a dict lookup).
        Returns False, having done nothing, when the body must go line by line.
        """
        parsed = self._bodies.get(body)
        if parsed is None:
            parsed = self._parse_body(body)
            if parsed is None:
                return False
            if len(body) <= _BODY_CACHE_TEXT:
                if len(self._bodies) >= _BODY_CACHE:
                    self._bodies.clear()
                self._bodies[body] = parsed
        self.finish(out)
        self._fresh = False
        if len(head.message) > _MAX_MESSAGE:
            head = head._replace(message=head.message[:_MAX_MESSAGE])
        record = self._record(head, True, parsed)
        if self.keep_info or record.kind is not LogKind.INFO:
            out.append(record)
        return True

    @staticmethod
    def _parse_body(body: bytes) -> _Body | None:
        """What feeding the lines to an owner record would build; None if one splits it."""
        text = body.decode("utf-8", "replace")
        if "\x1b" in text:
            text = strip_ansi(text)
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if "\r" in text:
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        if len(lines) > _HEAD_LINES or any(len(line) > _MAX_CONTINUATION for line in lines):
            pending = _Pending(owner=True)
            for line in lines:
                if not pending.accepts(line):
                    return None
                pending.add(line)
            lines = pending.lines()
        elif _splits(lines):
            return None  # a second traceback starts a record of its own
        while lines and not lines[-1].strip():
            lines.pop()
        return _analyze(lines, True)

    def _build(self, p: _Pending) -> LogRecord:
        return self._record(Header(p.timestamp, p.level, p.logger, p.first), p.owner,
                            _analyze(p.lines(), p.owner))

    def _record(self, head: Header, owner: bool, body: _Body) -> LogRecord:
        level, logger, first = head.level, head.logger, head.message
        message = first + body.extra if owner else first
        if not message and body.main is not None:
            message = first = body.main.title
        kind, blocked_s = body.kind(level, logger, first)
        return LogRecord(kind=kind, level=level, message=message, logger=logger,
                         at=self._time(head.timestamp), traceback=body.traceback,
                         exc_type=body.main.exc_type if body.main else "",
                         fingerprint=body.fingerprint(kind, logger, message),
                         blocked_s=blocked_s, source=self.source)

    def _time(self, stamp: str) -> datetime | None:
        if not stamp:
            return None
        if self._ts_cache[0] == stamp:
            return self._ts_cache[1]
        try:
            at: datetime | None = datetime.fromisoformat(stamp).replace(tzinfo=self.tz)
        except ValueError:
            at = None
        if at is not None and self.tz is not UTC:
            at = at.astimezone(UTC)
        self._ts_cache = (stamp, at)
        return at


def decode_lines(data: bytes) -> list[str]:
    """Complete lines of ``data`` decoded as UTF-8 (invalid bytes replaced)."""
    if not data:
        return []
    lines = data.decode("utf-8", "replace").split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines
