"""A record body's shape: its text with the exception messages blanked out.

``KeyError: 'track:1'`` and ``KeyError: 'track:2'`` raised at the same place differ only
in their messages, and a log repeats such tracebacks thousands of times with a different
track id each time. Keyed by the exact text, a cache of parsed bodies misses on every one
of them. :class:`BodyShapes` keys the parse by the *shape* (each ``Type: message`` line's
message replaced by a numbered placeholder), parses a shape once, and puts the messages
back into a copy of that parse: the result equals parsing the text itself (a property
test checks it). What depends on a message is recomputed from the filled-in exceptions:
whether the chain is fatal (a bad token) and whether the exception shown is a timeout.
The fingerprint does not depend on messages, so filled copies share the shape's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from remi_ops.logs.bodies import RecordBody, exception_facts
from remi_ops.logs.kinds import FATAL, is_timeout_type
from remi_ops.logs.tracebacks import ExceptionBlock, exception_title, filled_message

#: Only bodies up to this size take the shape path: no line of them can be long enough to
#: be cut (bodies.MAX_CONTINUATION), so blanking a message changes no parse decision.
MAX_SHAPE_TEXT = 8192
_CACHE = 512  # shapes kept (each at most MAX_SHAPE_TEXT characters)
#: an unindented ``Type: message`` line (after its newline): the type and the message with
#: its trailing whitespace (what follows the first colon; a type has none)
_MASKABLE_LINE = re.compile(r"\n([A-Za-z_][\w.]*):([^\n]*)")
#: the same lines for a split: the newline, type and colon kept whole, then the message
_MASKABLE_SPLIT = re.compile(r"(\n[A-Za-z_][\w.]*:)([^\n]*)")
#: the placeholder of each message by its number (a body with more takes a slower path)
_PLACEHOLDERS = tuple(f"\x00{i}\x00" for i in range(64))
#: texts whose parse could change with a message's content: ANSI colours and CRs are
#: stripped per line, "Exception Group" switches the parser's mode, NUL is our marker
_NO_SHAPE = ("\x1b", "\r", "\x00", "Exception Group")

Parse = Callable[[str], RecordBody | None]


class Shaped(NamedTuple):
    """A body read through its shape: the shape's parse and the messages blanked out of it
    (what :func:`fill` turns back into the text's parse)."""

    template: RecordBody | None  # None: a line of the body starts a record of its own
    messages: list[str]


class BodyShapes:
    """Parsed bodies by shape; :meth:`parse` is ``parse_text`` with repeats made cheap."""

    def __init__(self, parse_text: Parse) -> None:
        self._parse_text = parse_text
        self._shapes: dict[str, RecordBody | None] = {}

    def parse(self, text: str) -> RecordBody | None:
        """``parse_text(text)``, from the cache when a body of the same shape was seen."""
        shaped = self.shaped(text)
        if shaped is None:
            return self._parse_text(text)
        template, messages = shaped
        return None if template is None else fill(template, messages)

    def shaped(self, text: str) -> Shaped | None:
        """The parse of the text's shape and its messages, or None when the text has no
        message to blank or must be parsed as it is (see ``_NO_SHAPE``)."""
        if len(text) > MAX_SHAPE_TEXT or "\x1b" in text or "\r" in text or "\x00" in text \
                or "Exception Group" in text:  # _NO_SHAPE, spelt out (a third the cost)
            return None
        shape, messages = mask(text)
        if not messages:
            return None
        try:
            template = self._shapes[shape]
        except KeyError:
            template = self._parse_text(shape)
            if len(self._shapes) >= _CACHE:
                self._shapes.clear()
            self._shapes[shape] = template
        return Shaped(template, messages)


def mask(text: str) -> tuple[str, list[str]]:
    """Replace the message of every unindented ``Type: message`` line with a placeholder.

    The message is what follows the colon up to the line's trailing whitespace, which
    stays in place (the traceback parser strips it, the record's text keeps it). One
    split at such lines (a newline put in front so the first line is one too) and the
    message slots swapped for placeholders: no Python callback per line (~35 % less than
    a ``sub`` with one for a two-exception traceback).
    """
    # [text before, "\nType:", message, text before, "\nType:", message, …, text after]
    parts = _MASKABLE_SPLIT.split("\n" + text)
    messages = parts[2::3]
    if len(messages) > len(_PLACEHOLDERS):
        return _mask_each(text)
    for i, message in enumerate(messages):
        stripped = message.rstrip()
        if len(stripped) == len(message):
            parts[3 * i + 2] = _PLACEHOLDERS[i]
        else:
            messages[i] = stripped
            parts[3 * i + 2] = _PLACEHOLDERS[i] + message[len(stripped):]
    return "".join(parts)[1:], messages


def _mask_each(text: str) -> tuple[str, list[str]]:
    """:func:`mask` for a body with more messages than there are placeholders made ahead."""
    messages: list[str] = []

    def placeholder(m: re.Match[str]) -> str:
        message = m[2]
        stripped = message.rstrip()
        messages.append(stripped)
        return f"\n{m[1]}:\x00{len(messages) - 1}\x00{message[len(stripped):]}"

    shape = _MASKABLE_LINE.sub(placeholder, "\n" + text)
    return shape[1:], messages


def fill(template: RecordBody, messages: list[str]) -> RecordBody:
    """The template's parse with the messages put back (and what depends on them redone)."""
    blocks = tuple(ExceptionBlock(b.frames, b.exc_type,
                                  filled_message(b.exc_type, put(b.exc_message, messages)))
                   if "\x00" in b.exc_message else b for b in template.blocks)
    if template.has_exc:
        main, fatal, timeout = exception_facts(blocks)
    else:
        main, fatal, timeout = None, False, False
    # the fingerprint cache is shared: fingerprints do not depend on messages
    return RecordBody(put(template.extra, messages), put(template.traceback, messages), blocks,
                      template.has_exc, main, template.parts, fatal, timeout, template._fps)


def filled(body: RecordBody | Shaped) -> RecordBody:
    """A body's parse, filled in when it was read through its shape."""
    if isinstance(body, Shaped):
        assert body.template is not None  # a shape that splits is never counted
        return fill(body.template, body.messages)
    return body


def message_facts(template: RecordBody, messages: list[str]) -> tuple[bool, bool]:
    """Whether ``fill(template, messages)`` is fatal and whether its exception shown is a
    timeout, without building it: what a scan that only counts needs of the messages.

    Fatal is read from each exception's title only when it could be: when the shape's own
    titles are not fatal, a title can only become so through a message (the type before it
    is one word, so no fatal phrase spans the two), unless a blank message lets the next
    line be the title's first; one search over all the messages rules that out for most
    bodies (a property test compares it with reading every title).
    """
    if not template.has_exc:
        return False, False
    main = template.main
    timeout = False
    if main is not None:
        message = main.exc_message
        if "\x00" in message:
            message = filled_message(main.exc_type, put(message, messages))
        # the main block depends on exception types only
        timeout = is_timeout_type(main.exc_type) or "timed out" in message
    if not template.fatal and "" not in messages \
            and FATAL.search("\n".join(messages)) is None:
        return False, timeout
    return titles_fatal(template, messages), timeout


def titles_fatal(template: RecordBody, messages: list[str]) -> bool:
    """Whether any exception title of ``fill(template, messages)`` says restarting cannot
    help (a bad token, privileged intents), each title filled in and read."""
    for block in template.blocks:
        if block.exc_type:
            message = block.exc_message
            if "\x00" in message:
                message = put(message, messages).strip()
            if FATAL.search(exception_title(block.exc_type, message)) is not None:
                return True
    return False


def put(text: str, messages: list[str]) -> str:
    """``text`` with each placeholder replaced by its message."""
    if "\x00" not in text:
        return text
    # one replace per message, no callback: the text had no NUL of its own (_NO_SHAPE)
    # and a message has none, so each placeholder is replaced once, by its message
    for i, message in enumerate(messages):
        text = text.replace(f"\x00{i}\x00", message)
    return text
