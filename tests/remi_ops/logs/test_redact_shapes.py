"""Redaction of the shapes the anchors' table missed (issue 10 item 3), split or not.

Tokens after ``_``/``%22``/``%3D``, the secret half of a Discord token alone, AWS key ids,
cookies, ``Authorization: Basic``, JSON-escaped and URL-encoded forms, a DSN password
holding ``@``, and any of them broken over two lines or cut: none of the secret survives.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remi_ops.logs.redact import UNREDACTABLE, Redactor, redact_tail, redact_then_truncate

TOKEN = "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs"
HALF = ".Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs"
HOOK = "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789-_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123"
redact = Redactor()


@pytest.mark.parametrize(("text", "gone"), [
    (f"x_{TOKEN}", TOKEN),
    (f"?q=%22{TOKEN}%22", TOKEN),
    (f"token%3D{TOKEN}", TOKEN),
    (f'{{\\"t\\": \\"{TOKEN}\\"}}', TOKEN),
    (f"the second half alone {HALF} on a line", HALF[1:]),
    (f"%22{HALF[1:]}", HALF[1:]),
    ("key AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("id=_ASIAIOSFODNN7EXAMPL3", "ASIAIOSFODNN7EXAMPL3"),
    ("Cookie: sid=abc123secret; theme=dark", "abc123secret"),
    ("Set-Cookie: session=deadbeefcafe; Path=/; HttpOnly", "deadbeefcafe"),
    ('{\\"cookie\\": \\"sid=xyz987abc\\"}', "xyz987abc"),
    ("{'Cookie': 'sessionid=zz11yy22'}", "zz11yy22"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    ('{\\"Authorization\\": \\"Bearer abcdef123456\\"}', "abcdef123456"),
    ("postgres://admin:p@ss:w0rd@db.example.com:5432/x", "p@ss:w0rd"),
    ("https:\\/\\/user:hunter2pass@host\\/x", "hunter2pass"),
    (f"https%3A%2F%2Fdiscord.com%2Fapi%2Fwebhooks%2F123456789012345678%2F{HOOK}", HOOK),
    (f"https:\\/\\/discord.com\\/api\\/webhooks\\/123456789012345678\\/{HOOK}", HOOK),
    ("client_secret%3D%22abcdefgh%22", "abcdefgh"),
    ('{\\"client_secret\\": \\"s3cr3tvalue\\"}', "s3cr3tvalue"),
    ("GET /x?a=1%26client_secret%3Dzz99zz99", "zz99zz99"),
    ("sessionid: a1b2c3d4e5", "a1b2c3d4e5"),
])
def test_shapes_the_anchors_table_missed(text: str, gone: str) -> None:
    """Each shape from the issue is redacted."""
    out = redact(text)
    assert gone not in out, out
    assert "[REDACTED:" in out


def test_known_values_go_in_their_encoded_forms() -> None:
    """A known secret is found as is, URL-encoded and JSON-escaped."""
    secret = 'sk-proj/a+b"c&d=e f'
    r = Redactor([secret])
    for form in (secret, "sk-proj%2Fa%2Bb%22c%26d%3De%20f", "sk-proj%2Fa%2Bb%22c%26d%3De+f",
                 'sk-proj/a+b\\"c&d=e f'):
        assert "sk-proj" not in r(f"sent {form} away"), form


def test_a_line_break_inside_a_secret_takes_both_halves() -> None:
    """The halves of a token or a known value split over two lines both go, line by line."""
    out = redact(f"{TOKEN[:16]}\n{TOKEN[16:]}")
    assert out.count("\n") == 1
    assert TOKEN[:16] not in out and TOKEN[16:] not in out
    known = Redactor(["sk-openai-1234567890abcdef"])
    out = known("key sk-openai-12345\n67890abcdef end")
    assert out == "key [REDACTED:secret]\n[REDACTED:secret] end"


def test_lines_without_a_split_secret_keep_their_text() -> None:
    """Joining lines to look for split secrets does not blank ordinary lines."""
    text = ("Traceback (most recent call last):\n"
            '  File "/srv/remi/soundcloud_client.py", line 41, in fetch_track\n'
            "    resp = session.get(url)\n"
            "TimeoutError: read timed out after 850s\n")
    assert redact(text) == text


ADVERSARIAL_1MB = {
    "// then a@ run": "//a:" + "@" * 1_000_000,
    "// then one long run": "//" + "a" * 1_000_000,
    "many //a:": "//a:" * 250_000,
    "M runs before dots": ("M" * 25 + ".") * 40_000,
    "7 + dot repeated": "abcdefg." * 130_000,
    "line breaks": "\n" * 1_000_000,
    "a and line breaks": "a\n" * 500_000,
    "cookie= repeated": "cookie=" * 150_000,
    "cookie then a run": "cookie: " + "a" * 1_000_000,
    "escaped quotes": 'token\\"=\\"' * 100_000,
    "AKIA repeated": "AKIA" * 250_000,
    "%22 repeated": "%22" * 340_000,
    "%3D repeated": "token%3D" * 130_000,
    "token halves over lines": "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.\n" * 30_000,
    "key=value lines": "token=abcdefgh\n" * 70_000,
    "webhook prefixes": "https://discord.com/api/webhooks/12345678901234567/" * 20_000,
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL_1MB))
def test_a_megabyte_of_adversarial_input_finishes(name: str) -> None:
    """Linear patterns: a megabyte of each nasty shape is redacted (generous bound)."""
    text = ADVERSARIAL_1MB[name]
    start = time.perf_counter()
    out = Redactor([TOKEN])(text)
    assert time.perf_counter() - start < 20.0
    assert out != UNREDACTABLE


def _b64(size: int) -> st.SearchStrategy[str]:
    return st.binary(min_size=size, max_size=size).map(
        lambda b: base64.urlsafe_b64encode(b).decode().rstrip("="))


_ALNUM = st.text("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=10,
                 max_size=24)


@st.composite
def discord_tokens(draw: st.DrawFn) -> str:
    first = draw(st.sampled_from("MNO")) + draw(_b64(18))[:23]
    return f"{first}.{draw(_b64(5))[:6]}.{draw(_b64(27))[:27]}"


#: shape name → (strategy of the secret, how it is written into a line)
SHAPES: dict[str, tuple[st.SearchStrategy[str], Callable[[str], str]]] = {
    "discord token": (discord_tokens(), lambda s: f"client.run('{s}')"),
    "token after _": (discord_tokens(), lambda s: f"REMI_{s}"),
    "token after %22": (discord_tokens(), lambda s: f"q=%22{s}%22"),
    "token after %3D": (discord_tokens(), lambda s: f"token%3D{s}&x=1"),
    "token secret half": (discord_tokens().map(lambda t: t[t.index("."):]),
                          lambda s: f"tail {s} here"),
    "webhook": (_b64(51).map(lambda s: s[:68]),
                lambda s: f"POST https://discord.com/api/webhooks/123456789012345678/{s} 204"),
    "aws key id": (st.tuples(st.sampled_from(["AKIA", "ASIA"]),
                             st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=16,
                                     max_size=16)).map("".join),
                   lambda s: f"aws_key {s} used"),
    "bearer": (_ALNUM, lambda s: f"Authorization: Bearer {s}"),
    "basic": (_b64(18), lambda s: f"Authorization: Basic {s}"),
    "cookie": (_ALNUM, lambda s: f"Cookie: theme=dark; sid={s}; lang=en"),
    "set-cookie": (_ALNUM, lambda s: f"Set-Cookie: session={s}; Path=/; HttpOnly"),
    "dsn": (_ALNUM.map(lambda s: s[:4] + "@" + s[4:]),
            lambda s: f"connect postgres://remi:{s}@db.internal:5432/remi"),
    "json-escaped": (_ALNUM, lambda s: f'{{\\"client_secret\\": \\"{s}\\"}}'),
    "url-encoded": (_ALNUM, lambda s: f"body=client_secret%3D%22{s}%22"),
}
_PROSE = st.lists(st.sampled_from([
    "[2026-01-24 03:00:00] [INFO    ] remi.player: now playing",
    "    await asyncio.sleep(1)", "", "scan ok: 12 tracks scored",
    '  File "/srv/remi/bot.py", line 88, in on_ready']), max_size=3)


def _survivors(secret: str, out: str, split: int) -> list[str]:
    """Pieces of the secret still in ``out``: whole, or either half when split."""
    pieces = [secret] if not split else [secret[:split], secret[split:]]
    return [p for p in pieces if len(p) >= 6 and p in out]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=st.sampled_from(sorted(SHAPES)), data=st.data(), before=_PROSE, after=_PROSE,
       cut=st.integers(min_value=0, max_value=400))
def test_no_planted_secret_survives_a_line_break_or_a_cut(
        shape: str, data: st.DataObject, before: list[str], after: list[str], cut: int) -> None:
    """A secret of every shape, whole or broken by a line break anywhere, in any log around
    it, and then cut anywhere: no piece of it is left (both halves go)."""
    strategy, write = SHAPES[shape]
    secret = data.draw(strategy, label="secret")
    split = data.draw(st.integers(min_value=0, max_value=len(secret) - 1), label="split")
    planted = secret if not split else secret[:split] + "\n" + secret[split:]
    text = "\n".join([*before, write(planted), *after])
    out = redact(text)
    assert not _survivors(secret, out, split), out
    for kept in (redact_then_truncate(text, cut, redact), redact_tail(text, cut, redact)):
        assert not _survivors(secret, kept, split), kept


@settings(max_examples=200, deadline=None)
@given(secret=st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zs"]),
                      min_size=8, max_size=40),
       split=st.integers(min_value=0, max_value=39))
def test_no_known_value_survives_a_line_break(secret: str, split: int) -> None:
    """An exact known value, broken by a line break anywhere: both halves go."""
    split = min(split, len(secret) - 1)
    planted = secret if not split else secret[:split] + "\n" + secret[split:]
    out = Redactor([secret])(f"the value {planted} was sent")
    assert not _survivors(secret, out, split), out
