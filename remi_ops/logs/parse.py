"""Parse Remi's log lines into :class:`LogRecord`s and say what each one means.

Layouts and record boundaries: :mod:`remi_ops.logs.headers` (first lines) and
:mod:`remi_ops.logs.bodies` (continuation lines and tracebacks).

What a record means is decided by :mod:`remi_ops.logs.kinds`; it never depends on INFO/DEBUG
lines of loggers outside ``discord``, which lets :meth:`LogParser.feed_bytes` skip them in
bulk (see :mod:`remi_ops.logs.scan`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

from remi_ops.domain import LogKind, LogRecord
from remi_ops.logs.bodies import (
    FILE_LINE,
    HEAD_LINES,
    MAX_CONTINUATION,
    MAX_MESSAGE,
    TB_EXC,
    TB_FRAMES,
    TB_NONE,
    PendingRecord,
    RecordBody,
    analyze,
    classify,
    splits,
)
from remi_ops.logs.body_shapes import BodyShapes, Shaped, fill, filled, message_facts, put
from remi_ops.logs.headers import Header, clean_line, decode_lines, parse_header
from remi_ops.logs.kinds import gateway_state, kind_of
from remi_ops.logs.repeats import RepeatedRecords
from remi_ops.logs.scan import scan_bytes
from remi_ops.logs.tracebacks import strip_ansi

if TYPE_CHECKING:
    from remi_ops.logs.group_counts import GroupCounts

#: a record counted whole: its group, its header and its parsed body
Counted = tuple[str, Header, RecordBody | Shaped]

__all__ = ["Header", "LogParser", "classify", "decode_lines", "gateway_state", "parse_header",
           "strip_ansi"]

_BODY_CACHE = 1024  # entries, each at most _BODY_CACHE_TEXT bytes
_BODY_CACHE_TEXT = 16 * 1024


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
        self._cur: PendingRecord | None = None
        self._fresh = True  # nothing read yet: a leading "File" line is a cut traceback
        self._ts_cache: tuple[str, datetime | None] = ("", None)
        self._bodies: dict[bytes, RecordBody | Shaped] = {}
        self._shapes = BodyShapes(self._parse_body)  # on a miss: bodies of the same shape
        #: fast path (:mod:`remi_ops.logs.scan`): the last skipped record, kept in case the
        #: next chunk starts with lines that continue it
        self.carry = b""
        #: a full scan's counts: when set, records go there (most of them never built into
        #: a LogRecord) instead of being returned
        self.counts: GroupCounts | None = None
        #: what the last record fed whole while counting was counted as (None: INFO), for
        #: :mod:`remi_ops.logs.repeats` to remember
        self.counted: Counted | None = None
        self.repeats = RepeatedRecords()

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
        line = clean_line(line)
        fresh, self._fresh = self._fresh, False
        header = parse_header(line)
        if header is not None:
            self.finish(out)
            self._cur = PendingRecord(header.level, header.logger, header.timestamp,
                                      header.message[:MAX_MESSAGE], owner=True)
            return
        cur = self._cur
        if cur is not None and cur.accepts(line):
            cur.add(line)
            return
        self.finish(out)
        if not line.strip():
            return
        if TB_EXC.match(line) or (fresh and FILE_LINE.match(line)):
            self._cur = PendingRecord()
            self._cur.add(line)
            if self._cur.tb == TB_NONE:  # a traceback cut at its head: frames follow
                self._cur.tb = TB_FRAMES
        else:
            self._cur = PendingRecord(first=line[:MAX_MESSAGE])

    def finish(self, out: list[LogRecord]) -> None:
        """Complete the pending record, if any."""
        cur, self._cur = self._cur, None
        if cur is None:
            return
        record = self._build(cur)
        if self.counts is not None:
            self.counts.add_record(record)
        elif self.keep_info or record.kind is not LogKind.INFO:
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
            parsed = self._body(body)
            if parsed is None:
                return False
        elif isinstance(parsed, Shaped):  # a repeat: fill it in once for all the others
            parsed = self._bodies[body] = filled(parsed)
        self.finish(out)
        self._fresh = False
        if len(head.message) > MAX_MESSAGE:
            head = head._replace(message=head.message[:MAX_MESSAGE])
        if self.counts is not None:
            self.counted = self._count(head, parsed, self.counts)
            return True
        record = self._record(head, True, filled(parsed))
        if self.keep_info or record.kind is not LogKind.INFO:
            out.append(record)
        return True

    def _body(self, body: bytes) -> RecordBody | Shaped | None:
        """A body's parse (None: it must go line by line), remembered by its exact text.

        While counting, a body read through its shape is not even filled in: its messages
        are only read for what decides the record's kind (:meth:`_count`).
        """
        text = body.decode("utf-8", "replace")
        shaped = self._shapes.shaped(text)
        if shaped is not None:
            if shaped.template is None:
                return None
            parsed: RecordBody | Shaped = (shaped if self.counts is not None
                                           else fill(shaped.template, shaped.messages))
        else:
            whole = self._parse_body(text)
            if whole is None:
                return None
            parsed = whole
        if len(body) <= _BODY_CACHE_TEXT:
            if len(self._bodies) >= _BODY_CACHE:
                self._bodies.clear()
            self._bodies[body] = parsed
        return parsed

    @staticmethod
    def _parse_body(text: str) -> RecordBody | None:
        """What feeding the lines to an owner record would build; None if one splits it."""
        if "\x1b" in text:
            text = strip_ansi(text)
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if "\r" in text:
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        if len(lines) > HEAD_LINES or any(len(line) > MAX_CONTINUATION for line in lines):
            pending = PendingRecord(owner=True)
            for line in lines:
                if not pending.accepts(line):
                    return None
                pending.add(line)
            lines = pending.lines()
        elif splits(lines):
            return None  # a second traceback starts a record of its own
        while lines and not lines[-1].strip():
            lines.pop()
        return analyze(lines, True)

    def _count(self, head: Header, parsed: RecordBody | Shaped, counts: GroupCounts
               ) -> Counted | None:
        """What :meth:`_record` would decide about this record, without building it;
        returns what was counted (None for an INFO record, which is not)."""
        level, logger, first = head.level, head.logger, head.message
        if isinstance(parsed, Shaped):
            template, messages = parsed
            assert template is not None  # see _body
            message = first + put(template.extra, messages)
            if not message:  # the message is the main exception's title: fill it in
                return self._count(head, fill(template, messages), counts)
            if template.has_exc:
                fatal, timeout = message_facts(template, messages)
                kind = kind_of(level, logger, first, has_exc=True, exc_fatal=fatal,
                               exc_timeout=timeout)[0]
            else:
                kind = kind_of(level, logger, first)[0]
            body = template  # the fingerprint does not depend on the messages
        else:
            body = parsed
            message = first + body.extra
            if not message and body.main is not None:
                message = first = body.main.title
            kind = body.kind(level, logger, first)[0]
        if kind is LogKind.INFO:
            return None
        fp = body.fingerprint(kind, logger, message)
        counts.count(fp, self._time(head.timestamp), head, parsed)
        return fp, head, parsed

    def count_again(self, stamp: str, counted: Counted | None, out: list[LogRecord]) -> None:
        """Count a record equal to one counted before but for its timestamp ``stamp``
        (:mod:`remi_ops.logs.repeats`): what :meth:`feed_record` would do, decided once."""
        if self._cur is not None:
            self.finish(out)
        self._fresh = False
        counts = self.counts
        if counted is None or counts is None:
            return  # an INFO record: not counted
        fp, head, parsed = counted
        counts.count(fp, self._time(stamp), Header(stamp, head.level, head.logger,
                                                   head.message), parsed)

    def record_of(self, head: Header, body: RecordBody | Shaped) -> LogRecord:
        """The record a header line and its parsed body make (one counted unbuilt)."""
        return self._record(head, True, filled(body))

    def _build(self, p: PendingRecord) -> LogRecord:
        return self._record(Header(p.timestamp, p.level, p.logger, p.first), p.owner,
                            analyze(p.lines(), p.owner))

    def _record(self, head: Header, owner: bool, body: RecordBody) -> LogRecord:
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
            if self.tz is UTC:  # the offset read with the rest: ~7x cheaper than replace()
                at: datetime | None = datetime.fromisoformat(stamp + "+00:00")
            else:
                at = datetime.fromisoformat(stamp).replace(tzinfo=self.tz).astimezone(UTC)
        except ValueError:
            at = None
        self._ts_cache = (stamp, at)
        return at

