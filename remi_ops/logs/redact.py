"""Secrets out of every excerpt that leaves the machine (anchors §4).

:class:`Redactor` first replaces the exact known secret values (bot tokens, webhook URLs,
SoundCloud id/secret from the environment), longest first, then applies the pattern set
in the anchors' order, replacing each match with ``[REDACTED:<kind>]`` (keeping group 1
where a pattern has two groups).

The patterns are the anchors' table rewritten so that no input can make them backtrack
catastrophically (a 10 MB adversarial line is redacted in well under a second):
possessive quantifiers where giving characters back can never help, ``\\s*["']?\\s*``
written as ``\\s*+(?:["']\\s*+)?``, the unbounded ``\\b[\\w.-]{0,40}?`` prefix of the
key=value rule and the ``scheme:`` prefix of the URL-userinfo rule dropped (both are kept
text, so output is identical but for a little more redaction), the JWT rule anchored to
the start of its character run, and the PEM block found with a linear scan. Redaction
never raises: if something unexpected fails, the whole text is withheld.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

KNOWN = "secret"
PRIVATE_KEY = "private_key"
UNREDACTABLE = "[REDACTED:unredactable]"
MIN_SECRET_LEN = 6
TRUNCATION_MARKER = "…"


def _marker(kind: str) -> str:
    return f"[REDACTED:{kind}]"


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    hints: tuple[str, ...]  # lower-case substrings; the rule runs only if one is present
    #: match a lower-case pattern against ``text.lower()`` (same length, same positions):
    #: case-insensitive matching without ``re.IGNORECASE``, which disables the literal-prefix
    #: search and makes a scan ~50 times slower
    on_lower: bool = False

    def apply(self, text: str, low: str) -> str:
        haystack = low if self.on_lower else text
        marker = _marker(self.kind)
        out: list[str] = []
        last = 0
        for m in self.pattern.finditer(haystack):
            out.append(text[last:m.start()])
            if self.pattern.groups >= 2:
                out.append(text[m.start(1):m.end(1)])
            out.append(marker)
            last = m.end()
        return "".join(out) + text[last:] if out else text


_NOT_REDACTED = r"(?!\[REDACTED)"
_not_redacted = r"(?!\[redacted)"
# \b before a literal is written as a look-behind *after* it, so the scan can start with a
# fast literal search: ``bearer(?<!\wbearer)`` is ``\bbearer``.
_RULES = (
    _Rule("discord_webhook", re.compile(
        r"https?://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api(?:/v\d+)?/webhooks/"
        r"\d{17,20}/[\w-]{60,}+"), ("webhooks",), on_lower=True),
    _Rule("discord_token", re.compile(
        r"[MNO](?<![\w-].)[\w-]{23,27}\.[\w-]{6,7}\.[\w-]{27,40}(?![\w-])"), (".",)),
    _Rule("authorization", re.compile(
        r"(authorization(?<!\wauthorization)\s*+[:=]\s*+(?:[\"']\s*+)?"
        rf"(?:bot|bearer|oauth|basic|token)\s++)({_not_redacted}[^\s\"',;]++)"),
        ("authorization",), on_lower=True),
    _Rule("bearer", re.compile(rf"(bearer(?<!\wbearer)\s++)({_not_redacted}[^\s\"',;]++)"),
          ("bearer",), on_lower=True),
    _Rule("url_auth", re.compile(
        rf"(//)({_NOT_REDACTED}(?:[^/\s:@]++(?::[^/\s@]*+)?|:[^/\s@]++))(?=@)"), ("@",)),
    _Rule("query_secret", re.compile(
        r"([?&](?:client_id|client_secret|access_token|refresh_token|api_key|apikey|token"
        rf"|secret|key|sig|signature)=)({_not_redacted}[^&#\s\"']+)"), ("=",), on_lower=True),
    _Rule("key_value", re.compile(
        r"((?:token|secret|passw(?:or)?d|api[_-]?key|apikey|client[_-]?secret"
        r"|client[_-]?id|credentials?|private[_-]?key|auth)[\w.-]{0,20}+\s*+(?:[\"']\s*+)?"
        rf"(?:=>|=|:)\s*+[\"']?)({_not_redacted}[^\s\"',;&]{{6,}})"),
        ("token", "secret", "passw", "key", "client", "credential", "auth"), on_lower=True),
    _Rule("github_token", re.compile(
        r"g(?<!\wg)(?:h[pousr]_[0-9A-Za-z]{36}|ithub_pat_[0-9A-Za-z_]{82})\b"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
)
#: A JWT starts at the first ``\bey`` of its character run; matched at run starts only, so
#: a long run cannot be rescanned from every ``-ey`` in it.
_JWT = re.compile(r"(?<![A-Za-z0-9_-])(?>([A-Za-z0-9_-]*?)(?=\bey))"
                  r"(ey[A-Za-z0-9_-]{10,}+\.ey[A-Za-z0-9_-]{10,}+\.[A-Za-z0-9_-]{10,}+)")
#: Where a JWT's first dot can be: ``.ey`` with at least 12 token characters on each side.
_JWT_DOT = re.compile(r"\.ey(?<=[A-Za-z0-9_-]{12}\.ey)[A-Za-z0-9_-]{10}")
_NOT_TOKEN = re.compile(r"[^A-Za-z0-9_-]")
_PEM_BEGIN = re.compile(r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----")
#: PEM private keys and JWTs are redacted after key=value (the anchors' order).
_PEM_AFTER = "key_value"

#: Every ``<kind>`` that can appear in ``[REDACTED:<kind>]``.
KINDS: tuple[str, ...] = (KNOWN, *(r.kind for r in _RULES[:7]), PRIVATE_KEY, "jwt",
                          *(r.kind for r in _RULES[7:]))


def _lower(text: str) -> str:
    """``text.lower()`` with the same length and positions as ``text``.

    "İ" (U+0130) is the one character whose lower case is two characters long; mapping it
    to "i" first keeps the two aligned, position for position.
    """
    return (text.replace("\u0130", "i") if "\u0130" in text else text).lower()


def _redact_pem(text: str) -> str:
    """Replace BEGIN…END PRIVATE KEY blocks; linear, unlike a lazy ``[\\s\\S]+?`` regex."""
    out: list[str] = []
    pos = 0
    while True:
        begin = _PEM_BEGIN.search(text, pos)
        if begin is None:
            break
        end = _PEM_END.search(text, begin.end() + 1)
        if end is None:
            break  # no END after this BEGIN, so none after any later BEGIN either
        out += [text[pos:begin.start()], _marker(PRIVATE_KEY)]
        pos = end.end()
    return "".join(out) + text[pos:] if out else text


def _apply(rule: _Rule, text: str, low: str) -> tuple[str, str]:
    """Apply one rule; returns the new text and its lower-case form (kept in step)."""
    redacted = rule.apply(text, low)
    if redacted is text:
        return text, low
    return redacted, _lower(redacted)


def _redact_jwt(text: str) -> str:
    """Replace JWTs, trying the regex only at the start of the run before a likely first dot."""
    out: list[str] = []
    last = pos = 0
    reverse = ""
    n = len(text)
    while (dot := _JWT_DOT.search(text, pos)) is not None:
        reverse = reverse or text[::-1]
        before = _NOT_TOKEN.search(reverse, n - dot.start())
        run_start = max(last, n - before.start() if before else 0)
        m = _JWT.match(text, run_start)
        if m is None:
            pos = dot.start() + 1
            continue
        out += [text[last:m.start()], m[1], _marker("jwt")]
        last = pos = m.end()
    return "".join(out) + text[last:] if out else text


class Redactor:
    """``redact(text) -> text`` with the known secrets and the pattern set applied."""

    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        values = {s for s in known_secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LEN}
        self.known: tuple[str, ...] = tuple(sorted(values, key=lambda s: (-len(s), s)))

    def __call__(self, text: str) -> str:
        """The text with every secret replaced; never raises."""
        try:
            return self._redact(text if isinstance(text, str) else str(text))
        except Exception:
            return UNREDACTABLE

    def _redact(self, text: str) -> str:
        for secret in self.known:
            if secret in text:
                text = text.replace(secret, _marker(KNOWN))
        hints = low = _lower(text)
        for rule in _RULES:
            if any(h in hints for h in rule.hints):
                text, low = _apply(rule, text, low)
            if rule.kind == _PEM_AFTER:
                if "private key" in hints:
                    text = _redact_pem(text)
                if ".ey" in hints:
                    text = _redact_jwt(text)
                low = _lower(text)
        return text


def redact_then_truncate(text: str, limit: int, redactor: Callable[[str], str]) -> str:
    """Redact first, then cut to ``limit`` characters (a cut token cannot leak as a fragment)."""
    redacted = redactor(text)
    if len(redacted) <= limit:
        return redacted
    if limit <= len(TRUNCATION_MARKER):
        return redacted[:max(0, limit)]
    return redacted[:limit - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER


def escape_code_block(text: str) -> str:
    """Make text safe inside a Discord code block: no run of two backticks survives.

    A zero-width space goes between consecutive backticks, so neither ```` ``` ```` nor a
    longer fence can close the block early.
    """
    return re.sub(r"`(?=`)", "`\u200b", text) if "``" in text else text
