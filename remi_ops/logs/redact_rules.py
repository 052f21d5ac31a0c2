"""The pattern set of redaction: what a secret looks like, as linear-time rules.

The anchors' table (§4), widened where it missed: a token whatever precedes it (``_``,
``%22``, ``%3D``), the ``.segment2.segment3`` half of a Discord token alone, AWS key ids,
cookies and ``Set-Cookie``, JSON-escaped (``\\"``, ``\\/``) and URL-encoded (``%22``, ``%3D``,
``%2F``) separators, and a DSN password that holds an ``@``.

No input can make a rule backtrack catastrophically (a test feeds 1 MB of adversarial
text): possessive quantifiers where giving characters back can never help, bounded
repeats, the JWT rule anchored to the start of its character run and the PEM block found
with a linear scan. ``[REDACTED:<kind>]`` replaces each match (keeping group 1 where a
rule has two groups). :mod:`remi_ops.logs.redact` applies them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

PRIVATE_KEY = "private_key"


def marker(kind: str) -> str:
    return f"[REDACTED:{kind}]"


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str
    pattern: re.Pattern[str]
    hints: tuple[str, ...]  # lower-case substrings; the rule runs only if one is present
    #: match a lower-case pattern against ``text.lower()`` (same length, same positions):
    #: case-insensitive matching without ``re.IGNORECASE``, which disables the literal-prefix
    #: search and makes a scan ~50 times slower
    on_lower: bool = False
    #: the pattern used on text whose line breaks were taken out, when the value of this
    #: rule may run past a line's end (a cookie header's value is the rest of its line)
    joined: re.Pattern[str] | None = None
    #: characters before a match that its look-behind requires: a line break there splits
    #: the secret too, so in text without line breaks they are redacted with it
    reach_back: int = 0

    def spans(self, text: str, low: str, *, joined: bool = False) -> list[tuple[int, int]]:
        """Where the secret parts (group 2, else the whole match) are."""
        pattern = self.joined if joined and self.joined is not None else self.pattern
        back = self.reach_back if joined else 0
        found = []
        for m in pattern.finditer(low if self.on_lower else text):
            start, end = m.span(2) if pattern.groups >= 2 else m.span()
            found.append((max(0, m.start() - back) if back else start, end))
        return found


#: what already-redacted text is replaced with while the rules run (same length, so every
#: rule's positions are positions in the original): a private-use character, not a word
#: character, never whitespace
PLACEHOLDER = "\ue000"
_NOT_REDACTED = r"(?!\[REDACTED|\ue000)"
_not_redacted = r"(?!\[redacted|\ue000)"
#: a slash, JSON-escaped or URL-encoded (lower case)
_SL = r"(?:/|\\/|%2f)"
#: an optional quote, JSON-escaped or URL-encoded (lower case)
_Q = r"(?:\\?[\"']|%22)"


def _run_start(after: str = "") -> str:
    """A token's start: not inside a run of letters, digits and dashes, except right after
    an (URL-encoded) quote or "=". ``after`` is "." when written after the first character."""
    return rf"(?:(?<![A-Za-z0-9-]{after})|(?<=%22{after})|(?<=%3[Dd]{after}))"


# \b before a literal is written as a look-behind *after* it, so the scan can start with a
# fast literal search: ``bearer(?<!\wbearer)`` is ``\bbearer``.
_RULES = (
    Rule("discord_webhook", re.compile(
        rf"https?(?::|%3a){_SL}{_SL}(?:(?:ptb|canary)\.)?discord(?:app)?\.com{_SL}api"
        rf"(?:{_SL}v\d+)?{_SL}webhooks{_SL}\d{{17,20}}{_SL}[\w-]{{60,}}+"),
        ("webhooks",), on_lower=True),
    # a token starts a run of letters and digits: after "_", "%22" or "%3D" too
    Rule("discord_token", re.compile(
        rf"[MNO]{_run_start('.')}[\w-]{{23,27}}\.[\w-]{{6,7}}\.[\w-]{{27,}}+"), (".",)),
    # the secret half alone (the first segment is only the bot's id, in base64): the third
    # segment after a 6-7 character second one; found from its dot, which is fast
    Rule("discord_token", re.compile(
        r"(\.)(?<=[\w-]{6}\.)(?:(?<![\w-]{8}\.)|(?<=%22[\w-]{6}\.)|(?<=%22[\w-]{7}\.)"
        r"|(?<=%3[Dd][\w-]{6}\.)|(?<=%3[Dd][\w-]{7}\.))([\w-]{27,}+)"), (".",),
        reach_back=7),
    Rule("aws_key_id", re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}"), ("akia", "asia")),
    Rule("authorization", re.compile(
        rf"(authorization(?<!\wauthorization)\\?[\"']?\s*+[:=]\s*+(?:{_Q}\s*+)?"
        rf"(?:bot|bearer|oauth|basic|token)\s++)({_not_redacted}[^\s\"',;\\]++)"),
        ("authorization",), on_lower=True),
    Rule("bearer", re.compile(rf"(bearer(?<!\wbearer)\s++)({_not_redacted}[^\s\"',;\\]++)"),
         ("bearer",), on_lower=True),
    Rule("cookie", re.compile(
        rf"(cookie[\w-]{{0,20}}+\\?[\"']?\s*+[:=]\s*+(?:{_Q}\s*+)?)"
        rf"({_not_redacted}[^\r\n\"'\\]++)"), ("cookie",), on_lower=True,
        joined=re.compile(rf"(cookie[\w-]{{0,20}}+\\?[\"']?\s*+[:=]\s*+(?:{_Q}\s*+)?)"
                          rf"({_not_redacted}[^\s\"';\\]++(?:;[ \t]*+[^\s\"';\\]++)*+)")),
    # a DSN password may hold "@": it runs to the last "@" before the host
    Rule("url_auth", re.compile(
        rf"(//|\\/\\/){_NOT_REDACTED}([^/\s:@]*+:[^/\s]*(?=@)|[^/\s:@]++(?=@))"), ("@",)),
    Rule("query_secret", re.compile(
        r"((?:[?&]|%26|%3f)(?:client_id|client_secret|access_token|refresh_token|api_key"
        r"|apikey|token|secret|key|sig|signature)(?:=|%3d))"
        rf"({_not_redacted}[^&#\s\"'\\]+)"), ("=", "%3d"), on_lower=True),
    Rule("key_value", re.compile(
        r"((?:token|secret|passw(?:or)?d|api[_-]?key|apikey|client[_-]?secret"
        r"|client[_-]?id|credentials?|private[_-]?key|auth|session[_-]?id|dsn)"
        rf"[\w.-]{{0,20}}+\s*+(?:{_Q}\s*+)?(?:=>|=|:|%3d|%3a)\s*+{_Q}?)"
        rf"({_not_redacted}[^\s\"',;&\\]{{6,}})"),
        ("token", "secret", "passw", "key", "client", "credential", "auth", "session",
         "dsn"), on_lower=True),
    Rule("github_token", re.compile(
        r"g(?<!\wg)(?:h[pousr]_[0-9A-Za-z]{36}|ithub_pat_[0-9A-Za-z_]{82})\b"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
)


def _unbounded(source: str) -> str:
    """A rule without the look-behinds that say where a match may start: in text whose line
    breaks were taken out, a line's start is glued to the end of the line before."""
    for start in (_run_start("."), _run_start()):
        source = source.replace(start, "")
    return re.sub(r"\(\?<!\\w[a-z]+\)", "", source)


#: the rules in the order they apply, each with its pattern for text without line breaks
RULES: tuple[Rule, ...] = tuple(
    r if r.joined else replace(r, joined=re.compile(_unbounded(r.pattern.pattern)))
    for r in _RULES)
#: PEM private keys and JWTs are redacted after key=value (the anchors' order).
PEM_AFTER = "key_value"
#: A JWT starts at the first ``\bey`` of its character run; matched at run starts only, so
#: a long run cannot be rescanned from every ``-ey`` in it.
_JWT = re.compile(r"(?<![A-Za-z0-9_-])(?>([A-Za-z0-9_-]*?)(?=\bey))"
                  r"(ey[A-Za-z0-9_-]{10,}+\.ey[A-Za-z0-9_-]{10,}+\.[A-Za-z0-9_-]{10,}+)")
#: Where a JWT's first dot can be: ``.ey`` with at least 12 token characters on each side.
_JWT_DOT = re.compile(r"\.ey(?<=[A-Za-z0-9_-]{12}\.ey)[A-Za-z0-9_-]{10}")
_NOT_TOKEN = re.compile(r"[^A-Za-z0-9_-]")
_PEM_BEGIN = re.compile(r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----")

_AFTER_PEM = [r.kind for r in RULES].index(PEM_AFTER) + 1
#: Every ``<kind>`` a pattern can put in ``[REDACTED:<kind>]``, in the order they apply.
PATTERN_KINDS: tuple[str, ...] = tuple(dict.fromkeys([
    *(r.kind for r in RULES[:_AFTER_PEM]), PRIVATE_KEY, "jwt",
    *(r.kind for r in RULES[_AFTER_PEM:])]))


def lower(text: str) -> str:
    """``text.lower()`` with the same length and positions as ``text``.

    "İ" (U+0130) is the one character whose lower case is two characters long; mapping it
    to "i" first keeps the two aligned, position for position.
    """
    return (text.replace("\u0130", "i") if "\u0130" in text else text).lower()


def pem_spans(text: str) -> list[tuple[int, int]]:
    """BEGIN…END PRIVATE KEY blocks; linear, unlike a lazy ``[\\s\\S]+?`` regex."""
    found: list[tuple[int, int]] = []
    pos = 0
    while (begin := _PEM_BEGIN.search(text, pos)) is not None:
        end = _PEM_END.search(text, begin.end() + 1)
        if end is None:
            break  # no END after this BEGIN, so none after any later BEGIN either
        found.append((begin.start(), end.end()))
        pos = end.end()
    return found


def jwt_spans(text: str) -> list[tuple[int, int]]:
    """JWTs, trying the regex only at the start of the run before a likely first dot."""
    found: list[tuple[int, int]] = []
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
        found.append(m.span(2))
        last = pos = m.end()
    return found
