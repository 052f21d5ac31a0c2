"""A record's continuation lines: bounded while they arrive, then what they mean.

A header record owns every line up to the next header (multi-line messages, its traceback,
a heartbeat warning's "Loop thread traceback"). Without a header (stdout prints,
tracebacks the interpreter printed) a line stands alone, except that it owns a
``Traceback`` that follows at once, and a bare traceback ends at the first unindented line
after its exception line. A new ``Traceback`` after a complete one (no "During handling …"
between) starts a new record. :class:`PendingRecord` follows that state machine line by
line; :func:`analyze` turns the finished lines into message, traceback and meaning.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from remi_ops.domain import LogKind
from remi_ops.logs.headers import clean_line
from remi_ops.logs.kinds import FATAL, is_timeout_type, kind_of
from remi_ops.logs.tracebacks import (
    GROUPED_KINDS,
    ExceptionBlock,
    fingerprint,
    main_block,
    parse_traceback_parts,
)

TB_EXC = re.compile(r"^\s*(?:\+ )?(?:Exception Group )?Traceback \(most recent call last\):")
TB_ANY = re.compile(rf"{TB_EXC.pattern}|^(?:Loop thread traceback|Stack) \(most recent call "
                    r"last\):")
_SEPARATOR = re.compile(r"^(?:During handling of the above exception|The above exception was "
                        r"the direct cause)")
FILE_LINE = re.compile(r'^\s*File "')
MOST_RECENT = "(most recent call last):"

MAX_MESSAGE = 65536
MAX_CONTINUATION = 8192
HEAD_LINES = 300
_TAIL_LINES = 200

# traceback progress of a pending record
TB_NONE, TB_FRAMES, TB_EXC_LINE, TB_SEPARATOR = range(4)


def classify(level: str, logger: str, message: str, traceback: str = "") -> LogKind:
    """The kind of a record (see :class:`LogKind`); FATAL_CONFIG wins over CRASH."""
    lines = [clean_line(line) for line in traceback.split("\n")] if traceback else []
    body = analyze(lines, owner=True)  # a "Traceback …" line makes it an exception
    return body.kind(level, logger, message.split("\n", 1)[0])[0]


@dataclass(slots=True)
class PendingRecord:
    """A record being assembled: its header (if any) and continuation lines."""

    level: str = ""
    logger: str = ""
    timestamp: str = ""
    first: str = ""  # the header's message, or a level-less line
    owner: bool = False  # started by a header
    head: list[str] = field(default_factory=list)
    tail: deque[str] | None = None  # created when the head is full
    omitted: int = 0
    tb: int = TB_NONE

    def accepts(self, line: str) -> bool:
        """Does this non-header line continue the record?"""
        exc_start = MOST_RECENT in line and TB_EXC.match(line) is not None
        if exc_start and self.tb == TB_EXC_LINE:
            return False  # a second, separate traceback
        if self.owner or self.tb == TB_FRAMES:
            return True
        if self.tb == TB_NONE:
            return exc_start and not self.head
        if self.tb == TB_EXC_LINE:
            return not line or line[0] in " \t" or _SEPARATOR.match(line) is not None
        return not line.strip() or exc_start  # TB_SEPARATOR

    def add(self, line: str) -> None:
        """Append a continuation line (bounded: head, omission count, tail)."""
        if len(line) > MAX_CONTINUATION:
            line = line[:MAX_CONTINUATION] + " …[cut]"
        if MOST_RECENT in line and TB_ANY.match(line):
            self.tb = TB_FRAMES
        elif self.tb == TB_FRAMES and line and line[0] not in " \t":
            self.tb = TB_EXC_LINE
        elif self.tb == TB_EXC_LINE and line[:4] in ("Duri", "The ") and _SEPARATOR.match(line):
            self.tb = TB_SEPARATOR
        if len(self.head) < HEAD_LINES:
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
class RecordBody:
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


def analyze(lines: list[str], owner: bool) -> RecordBody:
    """Split continuation lines into message and traceback and parse the traceback."""
    if not lines:
        return _NO_BODY
    if owner:
        idx = next((i for i, line in enumerate(lines)
                    if MOST_RECENT in line and TB_ANY.match(line)), len(lines))
        extra = "".join("\n" + line for line in lines[:idx])
        tb_lines = lines[idx:]
    else:
        extra, tb_lines = "", lines
    traceback = "\n".join(tb_lines)
    blocks, parts = parse_traceback_parts(traceback) if traceback else ((), ())
    has_exc = bool(tb_lines) and (not owner or any(
        MOST_RECENT in x and TB_EXC.match(x) for x in tb_lines))
    if not has_exc:
        return RecordBody(extra, traceback, blocks, False, None, parts)
    main, fatal, timeout = exception_facts(blocks)
    return RecordBody(extra, traceback, blocks, True, main, parts, fatal, timeout)


def exception_facts(blocks: tuple[ExceptionBlock, ...]) -> tuple[ExceptionBlock | None, bool,
                                                                  bool]:
    """The exception to show, whether the chain is fatal (restarting cannot help), and
    whether the exception shown is a timeout: what an exception traceback's messages say."""
    main = main_block(blocks)
    fatal = any(FATAL.search(b.title) for b in blocks if b.exc_type)
    timeout = main is not None and (is_timeout_type(main.exc_type)
                                    or "timed out" in main.exc_message)
    return main, fatal, timeout


_NO_BODY = RecordBody("", "", (), False, None, ())


def splits(lines: list[str]) -> bool:
    """Would a record owning these lines hand one of them to a new record?

    That happens only at a second ``Traceback`` right after a complete one (the state
    machine of ``PendingRecord.accepts``/``add``, for an owner record).
    """
    state = TB_NONE
    for line in lines:
        if MOST_RECENT in line and TB_ANY.match(line):
            if state == TB_EXC_LINE and TB_EXC.match(line):
                return True
            state = TB_FRAMES
        elif state == TB_FRAMES and line and line[0] not in " \t":
            state = TB_EXC_LINE
        elif state == TB_EXC_LINE and line[:4] in ("Duri", "The ") and _SEPARATOR.match(line):
            state = TB_SEPARATOR
    return False
