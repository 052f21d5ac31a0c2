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

from remi_ops.logs.bodies import RecordBody, exception_facts
from remi_ops.logs.tracebacks import ExceptionBlock

#: Only bodies up to this size take the shape path: no line of them can be long enough to
#: be cut (bodies.MAX_CONTINUATION), so blanking a message changes no parse decision.
MAX_SHAPE_TEXT = 8192
_CACHE = 512  # shapes kept (each at most MAX_SHAPE_TEXT characters)
_MASKABLE = re.compile(r"([A-Za-z_][\w.]*):(.*)\Z")
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")
#: texts whose parse could change with a message's content: ANSI colours and CRs are
#: stripped per line, "Exception Group" switches the parser's mode, NUL is our marker
_NO_SHAPE = ("\x1b", "\r", "\x00", "Exception Group")

Parse = Callable[[str], RecordBody | None]


class BodyShapes:
    """Parsed bodies by shape; :meth:`parse` is ``parse_text`` with repeats made cheap."""

    def __init__(self, parse_text: Parse) -> None:
        self._parse_text = parse_text
        self._shapes: dict[str, RecordBody | None] = {}

    def parse(self, text: str) -> RecordBody | None:
        """``parse_text(text)``, from the cache when a body of the same shape was seen."""
        if len(text) > MAX_SHAPE_TEXT or any(mark in text for mark in _NO_SHAPE):
            return self._parse_text(text)
        shape, messages = mask(text)
        if not messages:
            return self._parse_text(text)
        try:
            template = self._shapes[shape]
        except KeyError:
            template = self._parse_text(shape)
            if len(self._shapes) >= _CACHE:
                self._shapes.clear()
            self._shapes[shape] = template
        return None if template is None else fill(template, messages)


def mask(text: str) -> tuple[str, list[str]]:
    """Replace the message of every unindented ``Type: message`` line with a placeholder.

    The message is what follows the colon up to the line's trailing whitespace, which
    stays in place (the traceback parser strips it, the record's text keeps it).
    """
    lines = text.split("\n")
    messages: list[str] = []
    for i, raw in enumerate(lines):
        if raw and raw[0] not in " \t" and ":" in raw:
            stripped = raw.rstrip()
            m = _MASKABLE.match(stripped)
            if m:
                lines[i] = f"{m[1]}:\x00{len(messages)}\x00{raw[len(stripped):]}"
                messages.append(m[2])
    return "\n".join(lines), messages


def fill(template: RecordBody, messages: list[str]) -> RecordBody:
    """The template's parse with the messages put back (and what depends on them redone)."""
    def put(text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: messages[int(m[1])], text) if "\x00" in text else text

    blocks = tuple(ExceptionBlock(b.frames, b.exc_type, put(b.exc_message).strip())
                   if "\x00" in b.exc_message else b for b in template.blocks)
    if template.has_exc:
        main, fatal, timeout = exception_facts(blocks)
    else:
        main, fatal, timeout = None, False, False
    # the fingerprint cache is shared: fingerprints do not depend on messages
    return RecordBody(put(template.extra), put(template.traceback), blocks, template.has_exc,
                      main, template.parts, fatal, timeout, template._fps)
