"""What a log record means: the rules that give each record its :class:`LogKind`.

The first rule that fits wins, so a bad token inside a traceback is FATAL_CONFIG (restarts
cannot fix it), not CRASH. Records of level INFO/DEBUG from loggers outside ``discord``
are always INFO unless they carry an exception traceback: the fast path of
:mod:`remi_ops.logs.scan` relies on that to skip them without parsing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import NamedTuple, TypeVar

from remi_ops.domain import LogKind, LogRecord

T = TypeVar("T")

#: Restarting cannot fix these: a bad token, privileged intents, close codes 4004/4014.
_FATAL_WORD_TEXT = (r"Improper token has been passed|LoginFailure|PrivilegedIntentsRequired"
                    r"|requesting privileged intents")
_FATAL_CODE_TEXT = r"(?:closed with|close code:?|code=)\s*40(?:04|14)\b"
FATAL = re.compile(f"{_FATAL_WORD_TEXT}|{_FATAL_CODE_TEXT}")
#: FATAL's two halves: its words, and the close codes (its only part with digits)
_FATAL_WORDS = re.compile(_FATAL_WORD_TEXT)
_FATAL_CODE = re.compile(_FATAL_CODE_TEXT)
_BLOCKED = re.compile(r"heartbeat blocked for more than (\d+(?:\.\d+)?) seconds")
_BEHIND = re.compile(r"Can't keep up, shard ID \S+ websocket is (\d+(?:\.\d+)?)s behind")
_STOPPED = "has stopped responding to the gateway"
_RECONNECT = re.compile(r"attempting a reconnect", re.IGNORECASE)
_RATE = re.compile(r"We are being rate limited|Global rate limit has been hit"
                   r"|responded with 429|is ratelimited")
#: _RATE but for its one part with digits, which is plain text
_RATE_WORDS = re.compile(r"We are being rate limited|Global rate limit has been hit"
                         r"|is ratelimited")
_RATE_CODE = "responded with 429"
_TIMEOUT_TEXT = re.compile(r"timed out|TimeoutError", re.IGNORECASE)
_GATEWAY = (("has connected to Gateway", "connected"), ("successfully RESUMED", "resumed"),
            ("session has been invalidated", "invalidated"))
LOUD = frozenset({"WARNING", "ERROR", "CRITICAL"})


def is_discord(logger: str) -> bool:
    """Loggers of discord.py (``discord``, ``discord.gateway``, …)."""
    return logger == "discord" or logger.startswith("discord.")


class _Signals(NamedTuple):
    """What a message's first line says, by the rules of :func:`kind_of`."""

    fatal: bool
    hang: bool
    blocked_s: float | None
    behind: bool
    reconnect: bool
    rate: bool
    timeout: bool
    gateway: bool


_SIGNAL_WORDS = ("Improper token", "LoginFailure", "rivileged", "40", "heartbeat blocked",
                 "keep up", "stopped responding", "rate limit", "429", "ratelimited",
                 "has connected to Gateway", "RESUMED", "invalidated")
#: the words of the rules matched in any case (_RECONNECT, _TIMEOUT_TEXT), in any case
_ANY_CASE_WORDS = ("ttempting", "timed out", "timeouterror")
#: One C-level search for any of the words (most first lines that miss the cache are unique,
#: a track id or a channel id, and hold none): cheaper than a substring test per word. The
#: words of any case are searched apart: in an ASCII line, as substrings of its lower case
#: (a case-blind regex lowers every character it tries: ~0.4 us more per line).
_SIGNAL_WORD = re.compile("|".join(map(re.escape, _SIGNAL_WORDS)))
_ANY_CASE_WORD = re.compile("|".join(map(re.escape, _ANY_CASE_WORDS)), re.IGNORECASE)


def has_signal_word(first: str) -> bool:
    """Whether ``first`` holds a word some rule looks for (else no rule can fit): what
    :func:`may_signal` answers, read on the line itself (tests compare the two)."""
    if _SIGNAL_WORD.search(first) is not None:
        return True
    if not first.isascii():  # e.g. a dotless ı, which a case-blind regex takes for an i
        return _ANY_CASE_WORD.search(first) is not None
    lower = first.lower()  # _ANY_CASE_WORDS, spelt out
    return "ttempting" in lower or "timed out" in lower or "timeouterror" in lower


_NO_SIGNALS = _Signals(fatal=False, hang=False, blocked_s=None, behind=False, reconnect=False,
                       rate=False, timeout=False, gateway=False)


#: The signal words with a digit; the others hold none, so whether a line holds one of
#: those does not depend on its digits, and is remembered for lines that differ only in
#: them (a track id, a channel id: most first lines of errors are unique by one).
_DIGIT_WORDS = tuple(w for w in _SIGNAL_WORDS if any(c.isdigit() for c in w))
_LETTER_WORD = re.compile("|".join(re.escape(w) for w in _SIGNAL_WORDS
                                   if w not in _DIGIT_WORDS))
_ONE_DIGIT = bytes.maketrans(b"0123456789", b"1111111111")
_MEMO_TEXT = 1024
_MEMO_KEYS = 4096
_letter_words: dict[bytes, bool] = {}


def may_signal(first: str) -> bool:
    """:func:`has_signal_word`, with the words without a digit looked up by the line with
    its digits as 1s: a word of letters and spaces is in a line exactly when it is in that
    line with other digits (no digit is part of it, and lower-casing leaves digits alone)."""
    if "40" in first or "429" in first:  # _DIGIT_WORDS, spelt out
        return True
    if len(first) > _MEMO_TEXT:
        return _has_letter_word(first)
    return _by_digits(_letter_words, first, _has_letter_word)


def _by_digits(memo: dict[bytes, T], first: str, read: Callable[[str], T]) -> T:
    """``read(first)``, remembered by the line with its digits as 1s: for a ``read`` that
    cannot tell digits apart. Bounded: forgotten all at once when full."""
    # utf-8 keeps every other character's bytes >= 0x80: only ASCII digits are touched
    key = first.encode("utf-8", "surrogatepass").translate(_ONE_DIGIT)
    known = memo.get(key)
    if known is None:
        if len(memo) >= _MEMO_KEYS:
            memo.clear()
        known = memo[key] = read(first)
    return known


def _has_letter_word(first: str) -> bool:
    """Whether ``first`` holds a signal word without a digit (of any case, for those)."""
    if _LETTER_WORD.search(first) is not None:
        return True
    if not first.isascii():
        return _ANY_CASE_WORD.search(first) is not None
    lower = first.lower()
    return "ttempting" in lower or "timed out" in lower or "timeouterror" in lower


def _signals(first: str) -> _Signals:
    if not may_signal(first):  # most first lines: no rule can fit, and no cache churns
        return _NO_SIGNALS
    return _signals_cached(first) if len(first) <= 1024 else _read_signals(first)


@lru_cache(maxsize=4096)
def _signals_cached(first: str) -> _Signals:
    return _read_signals(first)


def _read_signals(first: str) -> _Signals:
    if not may_signal(first):
        return _NO_SIGNALS
    words = _words(first)
    seconds = (_BLOCKED.search(first) or _BEHIND.search(first)
               if words.blocked or words.behind else None)
    return _Signals(fatal=words.fatal or ("40" in first
                                          and _FATAL_CODE.search(first) is not None),
                    hang=words.blocked or words.stopped,
                    blocked_s=float(seconds[1]) if seconds else None,
                    behind=words.behind,
                    reconnect=words.reconnect,
                    rate=words.rate or _RATE_CODE in first,
                    timeout=words.timeout,
                    gateway=words.gateway)


class _Words(NamedTuple):
    """What a first line says apart from its digits: which rules' patterns are in it, but
    for the close codes of FATAL and the 429 of _RATE (each one search is for any of its
    alternatives, so a pattern is in a line when one of its parts is)."""

    fatal: bool
    blocked: bool
    stopped: bool
    behind: bool
    reconnect: bool
    rate: bool
    timeout: bool
    gateway: bool


#: by the line with its digits as 1s (see may_signal): none of these patterns takes a digit
#: but as ``\d`` or ``\S`` (any digit alike), so each is in a line exactly when it is in
#: that line with other digits; the seconds, the close codes and 429 are read from the line
_line_words: dict[bytes, _Words] = {}


def _words(first: str) -> _Words:
    if len(first) > _MEMO_TEXT:  # a long line is read each time (the memo stays small)
        return _read_words(first)
    return _by_digits(_line_words, first, _read_words)


def _read_words(first: str) -> _Words:
    return _Words(fatal=_FATAL_WORDS.search(first) is not None,
                  blocked=_BLOCKED.search(first) is not None,
                  stopped=_STOPPED in first,
                  behind=_BEHIND.search(first) is not None,
                  reconnect=_RECONNECT.search(first) is not None,
                  rate=_RATE_WORDS.search(first) is not None,
                  timeout=_TIMEOUT_TEXT.search(first) is not None,
                  gateway=any(text in first for text, _ in _GATEWAY))


def kind_of(level: str, logger: str, first: str, *, has_exc: bool = False,
            exc_fatal: bool = False, exc_timeout: bool = False) -> tuple[LogKind, float | None]:
    """Kind and, for hangs, seconds blocked (for latency, seconds behind).

    ``first`` is the message's first line; ``has_exc`` says the record carries an exception
    traceback, whose exceptions say ``exc_fatal`` (bad token, intents) and ``exc_timeout``
    (the exception shown is a timeout). Order matters: the first rule that fits wins.
    """
    if not (has_exc or level in LOUD or (level and is_discord(logger))):
        return LogKind.INFO, None
    sig = _signals(first)
    if sig.fatal or exc_fatal:
        return LogKind.FATAL_CONFIG, None
    if sig.hang:
        return LogKind.HANG, sig.blocked_s
    if sig.behind:  # the heartbeat thread runs, the ack is late: the network, not the loop
        return LogKind.LATENCY, sig.blocked_s
    if sig.reconnect:
        return LogKind.GATEWAY, None
    if has_exc:
        return (LogKind.TIMEOUT if exc_timeout else LogKind.CRASH), None
    if sig.rate:
        return LogKind.RATE_LIMIT, None
    if level in LOUD and sig.timeout:
        return LogKind.TIMEOUT, None
    if level in ("ERROR", "CRITICAL"):
        return LogKind.ERROR, None
    if sig.gateway and is_discord(logger):
        return LogKind.GATEWAY, None
    return LogKind.INFO, None


@lru_cache(maxsize=1024)  # asked once per traceback counted, of a few exception types
def is_timeout_type(exc_type: str) -> bool:
    """``TimeoutError``, ``asyncio.exceptions.TimeoutError``, ``requests…ReadTimeout``, …"""
    name = exc_type.rsplit(".", 1)[-1]
    return name.endswith(("TimeoutError", "Timeout")) or name == "timeout"


def gateway_state(records: Iterable[LogRecord]) -> str:
    """The last gateway event: "connected", "resumed", "invalidated", "reconnecting" or ""."""
    state = ""
    for record in records:
        if record.kind is not LogKind.GATEWAY:
            continue
        first = record.message.split("\n", 1)[0]
        if _RECONNECT.search(first):
            state = "reconnecting"
            continue
        for text, name in _GATEWAY:
            if text in first:
                state = name
    return state
