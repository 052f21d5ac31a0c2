"""Python tracebacks as data, and the fingerprints that group repeats of one error.

Grouping follows Sentry (anchors §5). For a traceback, every exception of the chain adds
its type and its in-app frames as ``(basename, function, normalised source line)``: no
line numbers, so an edit that shifts lines keeps the group. Without a traceback the logger
plus the message with Sentry-style placeholders (``<int>``, ``<url>``, …) is used.
``fingerprint = sha1("\\n".join(parts))[:16]``. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from remi_ops.digests import sha1
from remi_ops.domain import LogKind, LogRecord
from remi_ops.logs.placeholders import replace_values

#: Kinds that become error groups; INFO, GATEWAY and RATE_LIMIT records are only counted.
GROUPED_KINDS = frozenset({LogKind.CRASH, LogKind.ERROR, LogKind.FATAL_CONFIG,
                           LogKind.TIMEOUT, LogKind.HANG})
#: Exceptions that only wrap the real one (discord.py app/hybrid commands): look through.
WRAPPERS = frozenset({"CommandInvokeError", "HybridCommandError"})
_CONTEXT_MAX = 120

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TB_START = re.compile(r"^\s*(?:\+ )?(?:Exception Group )?Traceback \(most recent call last\):"
                       r"|^(?:Loop thread traceback|Stack) \(most recent call last\):")
_SEPARATOR = re.compile(r"^(?:During handling of the above exception, another exception "
                        r"occurred:|The above exception was the direct cause of the following "
                        r"exception:)$")
_FILE = re.compile(r'^\s*File "(?P<file>[^"]*)", line (?P<line>\d+)(?:, in (?P<func>.+))?$')
_CARET = re.compile(r"^\s*[\^~]+\s*$")
_EXC = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<msg>.*))?$")
_EG_PREFIX = re.compile(r"^\s*(?:\| ?)+")
_EG_RULE = re.compile(r"^\s*\+[-+ \d.]*$")
_LIBRARY = re.compile(r"[\\/](?:site|dist)-packages[\\/]|[\\/]lib[\\/]python\d(?:\.\d+)?[\\/]"
                      r"|[\\/]Lib[\\/]|^<")
_LIB_ROOT = re.compile(r".*[\\/](?:(?:site|dist)-packages|lib[\\/]python\d(?:\.\d+)?|Lib)[\\/]")
_MAX_EXC_LINES = 20
_MOST_RECENT = "(most recent call last):"
_CACHE_TEXT = 16 * 1024  # memory bound of the caches: only texts up to this size
_MASKABLE = re.compile(r"([A-Za-z_][\w.]*):(.*)\Z")
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")


def strip_ansi(text: str) -> str:
    """Remove ANSI colour codes (``\\x1b[…m``) as discord.py's colour formatter writes them."""
    return _ANSI.sub("", text) if "\x1b" in text else text


@dataclass(frozen=True, slots=True)
class Frame:
    """One ``File "…", line N, in func`` entry and its source line."""

    filename: str
    lineno: int
    function: str
    source: str = ""

    @property
    def in_app(self) -> bool:
        """True unless the file is in site-/dist-packages, the stdlib or ``<frozen …>``."""
        return is_in_app(self.filename)

    @property
    def where(self) -> str:
        """``scoring_async.py in score_batch_async`` (library files keep their package)."""
        name = basename(self.filename) if self.in_app else _LIB_ROOT.sub("", self.filename)
        return f"{name} in {self.function}" if self.function else name


@dataclass(frozen=True, slots=True)
class ExceptionBlock:
    """One traceback of a chain (or a plain stack, then ``exc_type`` is empty)."""

    frames: tuple[Frame, ...]
    exc_type: str = ""
    exc_message: str = ""

    @property
    def title(self) -> str:
        """``NameError: name 'asyncio' is not defined``."""
        return exception_title(self.exc_type, self.exc_message)

    def app_frames(self) -> tuple[Frame, ...]:
        """In-app frames, or the last frame when none is in-app."""
        frames = tuple(f for f in self.frames if f.in_app)
        return frames or self.frames[-1:]


def exception_title(exc_type: str, exc_message: str) -> str:
    """``NameError: name 'asyncio' is not defined``: the type and the message's first line."""
    first = exc_message.split("\n", 1)[0]
    return f"{exc_type}: {first}" if first else exc_type


def basename(filename: str) -> str:
    """The last path component, for ``/`` and ``\\`` paths alike."""
    return filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]


@lru_cache(maxsize=4096)
def is_in_app(filename: str) -> bool:
    """Is this Remi's own code (not a library, not the standard library)?"""
    return not _LIBRARY.search(filename)


# --------------------------------------------------------------------------- parsing


class _TracebackBuilder:
    """Accumulates blocks while :func:`parse_traceback` walks the lines."""

    def __init__(self) -> None:
        self.blocks: list[ExceptionBlock] = []
        self.frames: list[list[str]] = []  # [file, lineno, function, source]
        self.exc: list[str] = []
        self.state = ""  # "", "frames", "exc", "sep"

    def close(self) -> None:
        if self.frames or self.exc:
            exc_type, msg = _split_exception(self.exc)
            frames = tuple(Frame(f, int(n), fn, src) for f, n, fn, src in self.frames)
            self.blocks.append(ExceptionBlock(frames, exc_type, msg))
        self.frames, self.exc = [], []

    def line(self, line: str) -> None:
        if _MOST_RECENT in line and _TB_START.match(line):
            self.close()
            self.state = "frames"
        elif self.state == "exc":
            if line[:4] in ("Duri", "The ") and _SEPARATOR.match(line):
                self.close()
                self.state = "sep"
            elif len(self.exc) < _MAX_EXC_LINES:
                self.exc.append(line)
        elif self.state == "frames" or (not self.state and _FILE.match(line)):
            self._frame_line(line)

    def _frame_line(self, line: str) -> None:
        self.state = "frames"
        text = line.strip()
        match = _FILE.match(line) if text.startswith('File "') else None
        if match:
            self.frames.append([match["file"], match["line"], match["func"] or "", ""])
        elif line[:1] in (" ", "\t") or not line:
            if self.frames and not self.frames[-1][3] and _is_source(text):
                self.frames[-1][3] = text
        else:
            self.state = "exc"
            self.exc = [line]


def _is_source(text: str) -> bool:
    """A frame's source line (not a ``^^^~~~`` marker nor "[Previous line repeated …]")."""
    if not text or (text[0] in "^~" and _CARET.match(text)):
        return False
    return not text.startswith("[Previous line repeated")


def _split_exception(lines: Sequence[str]) -> tuple[str, str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    if not lines:
        return "", ""
    match = _EXC.match(lines[0])
    if not match:
        return "", "\n".join(lines)
    return match["type"], "\n".join([match["msg"] or "", *lines[1:]]).strip()


def parse_traceback(text: str) -> tuple[ExceptionBlock, ...]:
    """The blocks of a (possibly chained, possibly truncated) traceback, oldest first.

    Also reads a stack without exception (``Loop thread traceback …``) and a fragment that
    starts at a ``File`` line (the head was lost). ANSI colours are ignored.
    """
    return parse_traceback_parts(text)[0]


def parse_traceback_parts(text: str) -> tuple[tuple[ExceptionBlock, ...], tuple[str, ...]]:
    """The blocks and their fingerprint parts (:func:`stack_parts`).

    Repeats are cheap: the text is remembered, and so is its shape with the exception
    messages blanked out, so ``KeyError: 'track:1'`` and ``KeyError: 'track:2'`` raised
    at the same place are parsed once.
    """
    if len(text) > _CACHE_TEXT or "\x00" in text:
        blocks = _parse(text)
        return blocks, stack_parts(blocks)
    return _by_text(text)


@lru_cache(maxsize=256)
def _by_text(text: str) -> tuple[tuple[ExceptionBlock, ...], tuple[str, ...]]:
    shape, messages = _mask(strip_ansi(text))
    blocks, parts = _by_shape(shape)
    if not messages:
        return blocks, parts
    return tuple(_fill(b, messages) for b in blocks), parts


@lru_cache(maxsize=512)
def _by_shape(shape: str) -> tuple[tuple[ExceptionBlock, ...], tuple[str, ...]]:
    blocks = _parse(shape)
    return blocks, stack_parts(blocks)


def _mask(text: str) -> tuple[str, list[str]]:
    """Replace the message of every ``Type: message`` line with a numbered placeholder."""
    lines = text.split("\n")
    messages: list[str] = []
    for i, raw in enumerate(lines):
        if raw and raw[0] not in " \t" and ":" in raw:
            m = _MASKABLE.match(raw.rstrip())
            if m:
                lines[i] = f"{m[1]}:\x00{len(messages)}\x00"
                messages.append(m[2])  # raw: the parser's own stripping applies in _fill
    return "\n".join(lines), messages


def _fill(block: ExceptionBlock, messages: list[str]) -> ExceptionBlock:
    if "\x00" not in block.exc_message:
        return block
    text = _PLACEHOLDER.sub(lambda m: messages[int(m[1])], block.exc_message)
    return ExceptionBlock(block.frames, block.exc_type, filled_message(block.exc_type, text))


def filled_message(exc_type: str, text: str) -> str:
    """A message with its placeholders put back, stripped as :func:`_split_exception`
    strips it: only after a ``Type: message`` line (lines with no type are kept as read)."""
    return text.strip() if exc_type else text


def _parse(text: str) -> tuple[ExceptionBlock, ...]:
    builder = _TracebackBuilder()
    group = "Exception Group Traceback" in text
    for raw in strip_ansi(text).split("\n"):
        line = raw.rstrip()
        if group:
            if _EG_RULE.match(line):
                continue
            if _EG_PREFIX.match(line):
                line = _EG_PREFIX.sub("", line)
            elif line.lstrip().startswith("+ "):
                line = line.lstrip()[2:]
        builder.line(line)
    builder.close()
    return tuple(builder.blocks)


def main_block(blocks: Sequence[ExceptionBlock]) -> ExceptionBlock | None:
    """The exception to show: the last of the chain, looking through wrapper exceptions."""
    with_exc = [b for b in blocks if b.exc_type]
    if not with_exc:
        return blocks[-1] if blocks else None
    last = with_exc[-1]
    if last.exc_type.rsplit(".", 1)[-1] in WRAPPERS and len(with_exc) > 1:
        return with_exc[-2]
    return last


# --------------------------------------------------------------------------- fingerprints

def normalize_message(message: str) -> str:
    """The first two non-empty lines with variable parts replaced by ``<kind>`` placeholders."""
    if "\n" not in message and "\x1b" not in message:  # one line (most): the same, simply
        text = message.strip()[:4000]
    else:
        lines = [line.strip() for line in strip_ansi(message).split("\n") if line.strip()][:2]
        text = "\n".join(lines)[:4000]
    return replace_values(text)


def _frame_key(frame: Frame) -> str:
    source = " ".join(frame.source.split())
    if len(source) > _CONTEXT_MAX:  # Sentry ignores long context lines
        source = ""
    return f"{basename(frame.filename)}|{frame.function}|{source}"


def stack_parts(blocks: Sequence[ExceptionBlock]) -> tuple[str, ...]:
    """Fingerprint parts of a traceback: per block its type and in-app frames (no lines)."""
    parts: list[str] = []
    for block in blocks:
        if block.exc_type:
            parts.append(block.exc_type)
        previous = ""
        for frame in block.app_frames():
            key = _frame_key(frame)
            if key != previous:
                parts.append(key)
            previous = key
    return tuple(parts) if any(b.frames for b in blocks) else ()


def _digest(parts: Sequence[str]) -> str:
    return sha1("\n".join(parts).encode("utf-8", "replace"),
                usedforsecurity=False).hexdigest()[:16]


def fingerprint(kind: LogKind, logger: str, message: str,
                blocks: Sequence[ExceptionBlock] = (), *,
                parts: Sequence[str] | None = None) -> str:
    """The error-group key; "" for kinds that are not grouped.

    ``parts`` (from :func:`stack_parts`) may be passed instead of ``blocks``.
    """
    if kind not in GROUPED_KINDS:
        return ""
    chosen = list(stack_parts(blocks) if parts is None else parts)
    if not chosen:
        return message_digest(kind is LogKind.HANG, logger or "-", normalize_message(message))
    if kind is LogKind.HANG:
        chosen.insert(0, "hang")
    return _digest(chosen)


@lru_cache(maxsize=1024)
def message_digest(hang: bool, logger: str, normalized: str) -> str:
    """The fingerprint of a record grouped by its message (remembered: the errors of a log
    without a traceback repeat a few normalised messages thousands of times)."""
    return _digest(["hang", logger, normalized] if hang else [logger, normalized])


def fingerprint_record(record: LogRecord) -> str:
    """The record's fingerprint (computed when the parser did not set one)."""
    if record.fingerprint or record.kind not in GROUPED_KINDS:
        return record.fingerprint
    return fingerprint(record.kind, record.logger, record.message,
                       parse_traceback(record.traceback) if record.traceback else ())


def fingerprint_text(text: str) -> str:
    """The group of the (last) Python traceback found in free text, e.g. a command's output.

    It matches the fingerprint of the same traceback read from a log; "" without one.
    """
    lines = strip_ansi(text).split("\n")
    starts = [i for i, line in enumerate(lines) if _TB_START.match(line)]
    if not starts:
        return ""
    blocks = parse_traceback("\n".join(lines[starts[0]:]))
    if not any(b.exc_type or b.frames for b in blocks):
        return ""
    return fingerprint(LogKind.CRASH, "", "", blocks)


def title_of(record: LogRecord, blocks: Sequence[ExceptionBlock] = ()) -> str:
    """``NameError: name 'asyncio' is not defined``, else the message's first line."""
    block = main_block(blocks) if record.kind is not LogKind.HANG else None
    text = block.title if block is not None and block.exc_type else ""
    text = text or record.message.strip().split("\n", 1)[0] or record.exc_type
    return text[:200]


def culprit_of(record: LogRecord, blocks: Sequence[ExceptionBlock] = ()) -> str:
    """Where it happened: ``scoring_async.py in score_batch_async``.

    For a hang it is the innermost in-app frame of the loop's stack and the library call it
    was blocked in: ``soundcloud_client.py in fetch_track → requests/api.py in get``.
    """
    block = main_block(blocks)
    if block is None or not block.frames:
        return record.logger
    frames = block.frames
    app = [i for i, f in enumerate(frames) if f.in_app]
    if not app:
        return frames[-1].where
    inner = app[-1]
    where = frames[inner].where
    if record.kind is LogKind.HANG and inner + 1 < len(frames):
        where += f" → {frames[inner + 1].where}"
    return where
