"""Variable parts of an error message replaced by ``<kind>`` placeholders (for grouping).

An error without a stack is grouped by its logger and its message with every value (a
number, an id, a URL, a duration…) replaced by the name of its kind, so ``Scan of track
123 failed`` and ``Scan of track 456 failed`` are one group. The regex that finds them is
an alternation tried at every word boundary, which is most of what such a record costs in
a full scan; two of its kinds need a character most messages lack (an e-mail address an
``@``, a URL ``://``), so a message without it is searched without those alternatives —
the same values, the same names (a property test compares it with the whole regex).
"""

from __future__ import annotations

import re

#: what varies in a message: each kind of value and its placeholder name, in the order
#: they are tried (the first that matches at a position wins)
_KINDS = (
    ("email", r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}\b"),
    ("url", r"""\b[a-zA-Z][a-zA-Z0-9+.-]{0,20}://[^\s"'<>]{1,2000}"""),
    ("ip", r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"),
    ("uuid", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    ("sha1", r"\b[0-9a-fA-F]{40}\b"),
    ("md5", r"\b[0-9a-fA-F]{32}\b"),
    ("date", r"\b\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:[.,]\d{1,9})?)?"
             r"(?:Z|[+-]\d\d:?\d\d)?)?\b|\b\d\d:\d\d:\d\d\b"),
    ("duration", r"\b\d{1,12}(?:\.\d{1,12})?\s?(?:ms|s|secs?|seconds?|mins?|minutes?|h|hours?)\b"),
    ("hex", r"\b0[xX][0-9a-fA-F]{1,32}\b|\b(?=[0-9a-fA-F]{0,64}\d)(?=[0-9a-fA-F]{0,64}[a-fA-F])"
            r"[0-9a-fA-F]{8,64}\b"),
    ("float", r"-?\b\d{1,32}\.\d{1,32}\b"),
    ("int", r"-?\b\d{1,64}\b"),
    ("quoted_str", r"""'[^'\n]{0,500}'|"[^"\n]{0,500}\""""),
    ("bool", r"\b(?:True|False|true|false)\b"),
)
#: a kind that can only match where this text occurs in the message
_NEEDS = {"email": "@", "url": "://"}


def alternation(names: tuple[str, ...] | None = None) -> str:
    """The kinds (all, or those named) as one alternation of named groups."""
    return "|".join(f"(?P<{name}>{pattern})" for name, pattern in _KINDS
                    if names is None or name in names)


#: Every kind starts at a word boundary, a minus or a quote: the lookahead lets the regex
#: engine pass over the other positions after one test instead of one per kind. Without
#: e-mail addresses and URLs, a value can only start a word with a digit, a hex letter, or
#: the T/t/F/f of a bool (so most words of a sentence are passed over in that one test).
_STARTS = r"""(?=\b|-|'|")"""
_STARTS_WITHOUT_NAMES = r"""(?=\b[\da-fA-FtT]|-|'|")"""


def _compile(names: tuple[str, ...]) -> re.Pattern[str]:
    starts = _STARTS if "email" in names or "url" in names else _STARTS_WITHOUT_NAMES
    return re.compile(f"{starts}(?:{alternation(names)})")


_ALL = tuple(name for name, _ in _KINDS)
#: by (has "@", has "://"): the kinds that can match such a message
_PATTERNS = {(at, scheme): _compile(tuple(n for n in _ALL if not (
    (n == "email" and not at) or (n == "url" and not scheme))))
    for at in (False, True) for scheme in (False, True)}
PLACEHOLDERS = _PATTERNS[True, True]


def _name(m: re.Match[str]) -> str:
    return f"<{m.lastgroup}>"


def search_values(text: str) -> str:
    """``text`` with each value replaced by ``<kind>``, by the regex (what
    :func:`replace_values` gives, without its memo)."""
    pattern = _PATTERNS[_NEEDS["email"] in text, _NEEDS["url"] in text]
    return pattern.sub(_name, text)


#: Memo of :func:`search_values` for texts that differ only in their digits 1-9. No kind
#: tells those digits apart: every class and shorthand that takes one takes all nine, and
#: the only digit written into a pattern is the 0 of ``0x`` (left as it is). So the regex
#: finds the same values at the same places in ``3 in 45`` as in ``1 in 11``, and the
#: results differ only where a digit is left outside every value. Whether one is, is
#: decided once per key by reading the key with its digits as 1s and as 2s: equal results
#: mean no digit is left, and that result is every such text's (a property test compares
#: the memo with the regex). A key is read so only the second time it is seen, so a log of
#: texts that never repeat pays one regex and a dict lookup, not three.
_ONES = bytes.maketrans(b"23456789", b"11111111")
_TWOS = bytes.maketrans(b"1", b"2")
_MEMO_TEXT = 1024  # characters: longer texts go to the regex each time
_MEMO_KEYS = 4096
#: by key: the result shared by every text of the key; False: seen once; True: the
#: result depends on the digits
_memo: dict[bytes, str | bool] = {}


def replace_values(text: str) -> str:
    """``text`` with each value replaced by ``<kind>``."""
    if len(text) > _MEMO_TEXT:
        return search_values(text)
    # utf-8 keeps every other character's bytes >= 0x80: only ASCII digits are touched
    key = text.encode("utf-8", "surrogatepass").translate(_ONES)
    known = _memo.get(key)
    if isinstance(known, str):
        return known
    if known is None:
        if len(_memo) >= _MEMO_KEYS:
            _memo.clear()
        _memo[key] = False
        return search_values(text)
    if known is False:
        ones = search_values(key.decode("utf-8", "surrogatepass"))
        twos = search_values(key.translate(_TWOS).decode("utf-8", "surrogatepass"))
        _memo[key] = known = ones if ones == twos else True
        if isinstance(known, str):
            return known
    return search_values(text)
