"""Secrets out of every text that leaves the process, once, where the text is made.

:class:`Redactor` is the one way to make a :class:`~remi_ops.logs.redacted.Redacted` from raw
text (``tests/test_architecture.py`` holds every other module to it). It first replaces
the exact known secret values (``remi_ops.logs.known_secrets``: secret-looking variables of the
environment, the target's env and ``.env``), longest first, with their URL-encoded and
JSON-escaped forms, then applies the pattern set of :mod:`remi_ops.logs.redact_rules` in
the anchors' order, replacing each match with ``[REDACTED:<kind>]``.

Every step finds spans of the original text (what a step found is blotted with
same-length placeholders, so later steps neither see it again nor lose their positions);
the markers replace all spans at the end. A secret broken over two lines is still a
secret: the rules also run over the text with its line breaks taken out, and every match
that spans a break is redacted piece by piece, on both lines. That costs a little
over-redaction (the first word of the line after a ``key=value`` line's end goes too)
and never hides a secret, because the line-by-line spans are found in the untouched text.
Redaction never raises: if something unexpected fails, the whole text is withheld.

Cut after redaction, never before (anchors §4): :func:`redact_then_truncate` and
:func:`redact_tail` redact the whole text first, so a token straddling the cut is gone.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus

from remi_ops.logs.known_secrets import usable
from remi_ops.logs.redact_rules import (
    PATTERN_KINDS,
    PEM_AFTER,
    PLACEHOLDER,
    PRIVATE_KEY,
    RULES,
    jwt_spans,
    lower,
    marker,
    pem_spans,
)
from remi_ops.logs.redacted import TRUNCATION_MARKER, Redacted

KNOWN = "secret"
UNREDACTABLE = Redacted("[REDACTED:unredactable]")
#: Every ``<kind>`` that can appear in ``[REDACTED:<kind>]``.
KINDS: tuple[str, ...] = (KNOWN, *PATTERN_KINDS)
#: what a redactor is, for code that is handed one
Redact = Callable[[str], Redacted]
_BREAKS = "\r\n"
_BREAK = re.compile(r"[\r\n]")


def _forms(secret: str) -> set[str]:
    """A secret as it may appear in text: as is, URL-encoded, JSON-escaped."""
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1],
            json.dumps(secret, ensure_ascii=True)[1:-1]}


class Redactor:
    """``redact(text) -> Redacted``: the known secrets and the pattern set applied."""

    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        self.secrets: tuple[str, ...] = usable(known_secrets)
        self.known: tuple[str, ...] = usable(f for s in self.secrets for f in _forms(s))

    def __call__(self, text: str) -> Redacted:
        """The text with every secret replaced; never raises."""
        try:
            return Redacted(self._redact(text if isinstance(text, str) else str(text)))
        except Exception:
            return UNREDACTABLE

    def _redact(self, text: str) -> str:
        """Find every secret's span in ``text``, then replace them all at once.

        Each step blots what it found with placeholders of the same length, so the next
        step does not see it again and every span stays a span of the original text.
        """
        found: list[_Span] = []
        for secret in self.known:
            start = text.find(secret)
            while start != -1:
                found.append((start, start + len(secret), KNOWN))
                start = text.find(secret, start + len(secret))
        work = _blot(text, found)
        if any(c in text for c in _BREAKS):  # not blotted: a line's own secrets stay visible
            found = self._across_breaks(text) + found
        hints = low = lower(work)
        for rule in RULES:
            if any(h in hints for h in rule.hints):
                spans = rule.spans(work, low)
                found += [(s, e, rule.kind) for s, e in spans]
                work, low = _blot(work, spans), _blot(low, spans)
            if rule.kind == PEM_AFTER:
                for kind, finder, hint in ((PRIVATE_KEY, pem_spans, "private key"),
                                           ("jwt", jwt_spans, ".ey")):
                    if hint in hints:
                        spans = finder(work)
                        found += [(s, e, kind) for s, e in spans]
                        work, low = _blot(work, spans), _blot(low, spans)
        return _render(text, found) if found else text

    def _across_breaks(self, text: str) -> list[_Span]:
        """The spans of secrets that a line break split (both pieces, in ``text``)."""
        breaks = [m.start() for m in _BREAK.finditer(text)]
        joined = _BREAK.sub("", text)
        shifted = [b - n for n, b in enumerate(breaks)]  # where each break was, in joined
        low = lower(joined)
        spans: list[_Span] = []
        for secret in self.known:
            start = joined.find(secret)
            while start != -1:
                spans.append((start, start + len(secret), KNOWN))
                start = joined.find(secret, start + 1)
        for rule in RULES:
            if any(h in low for h in rule.hints):
                spans += [(s, e, rule.kind) for s, e in rule.spans(joined, low, joined=True)]

        def original(i: int) -> int:  # a position in joined, in text
            return i + bisect_right(shifted, i)

        return [(original(s), original(e - 1) + 1, kind) for s, e, kind in spans
                if bisect_right(shifted, s) < bisect_right(shifted, e - 1)]


_Span = tuple[int, int, str]


def _blot(text: str, spans: Iterable[tuple[int, int] | _Span]) -> str:
    """``text`` with each span overwritten by placeholders (same length, same positions)."""
    out: list[str] = []
    last = 0
    for span in sorted(spans):
        start, end = max(span[0], last), span[1]
        if end > start:
            out += [text[last:start], PLACEHOLDER * (end - start)]
            last = end
    return "".join(out) + text[last:] if out else text


def _render(text: str, spans: list[_Span]) -> str:
    """``text`` with each (merged) span replaced by its marker; a span that holds line
    breaks gets one marker per line piece (the lines stay lines), but for a PEM block."""
    out: list[str] = []
    last = 0
    for start, end, kind in _merged(spans):
        out.append(text[last:start])
        piece = start
        if kind != PRIVATE_KEY:
            for i in range(start, end):
                if text[i] in _BREAKS:
                    if i > piece:
                        out.append(marker(kind))
                    out.append(text[i])
                    piece = i + 1
        if end > piece:
            out.append(marker(kind))
        last = end
    return "".join(out) + text[last:]


def _merged(spans: list[_Span]) -> list[_Span]:
    """Overlapping spans as one, named by the first (in order of application)."""
    order = {span: n for n, span in reversed(list(enumerate(spans)))}
    merged: list[tuple[int, int, str, int]] = []
    for start, end, kind in sorted(spans):
        rank = order[(start, end, kind)]
        if merged and start < merged[-1][1]:
            s0, e0, k0, r0 = merged[-1]
            merged[-1] = (s0, max(e0, end), k0 if r0 <= rank else kind, min(r0, rank))
        else:
            merged.append((start, end, kind, rank))
    return [(s, e, k) for s, e, k, _ in merged if e > s]


def redact_then_truncate(text: str, limit: int, redactor: Redact) -> Redacted:
    """Redact first, then cut to ``limit`` characters (a cut token cannot leak as a fragment)."""
    return redactor(text).head(limit)


def redact_tail(text: str, limit: int, redactor: Redact) -> Redacted:
    """Redact the whole text, then keep its last ``limit`` characters."""
    return redactor(text).tail(limit)


def redact_patterns(text: str) -> Redacted:
    """``text`` through the pattern set alone, for text without a known secret at hand.

    For text read back from our own store (written redacted; redacting again is a no-op,
    and a row an older version wrote cannot leak through a new reader), fixtures and tests.
    """
    return _PATTERNS_ONLY(text)


_PATTERNS_ONLY = Redactor()


def escape_code_block(text: str) -> str:
    """Make text safe inside a Discord code block: no run of two backticks survives.

    A zero-width space goes between consecutive backticks, so neither ```` ``` ```` nor a
    longer fence can close the block early.
    """
    return re.sub(r"`(?=`)", "`\u200b", text) if "``" in text else text


__all__ = [
    "KINDS",
    "KNOWN",
    "TRUNCATION_MARKER",
    "UNREDACTABLE",
    "Redact",
    "Redacted",
    "Redactor",
    "escape_code_block",
    "redact_patterns",
    "redact_tail",
    "redact_then_truncate",
]
