"""Redaction: known values, the anchors' pattern set in order, linear time, code blocks."""

from __future__ import annotations

import time

import pytest

from remi_ops.logs.redact import (
    KINDS,
    UNREDACTABLE,
    Redactor,
    escape_code_block,
    redact_then_truncate,
)

TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0.GabcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
WEBHOOK = ("https://discord.com/api/webhooks/123456789012345678/"
           "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789-_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123")
JWT = ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
       "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
redact = Redactor()


@pytest.mark.parametrize(("text", "expected"), [
    (f"webhook {WEBHOOK} posted", "webhook [REDACTED:discord_webhook] posted"),
    (WEBHOOK.replace("https://discord.com", "https://canary.discordapp.com"),
     "[REDACTED:discord_webhook]"),
    (f"token={TOKEN}", "token=[REDACTED:discord_token]"),
    (f"got {TOKEN}.", "got [REDACTED:discord_token]."),
    ("Authorization: Bot abc.def-ghi", "Authorization: Bot [REDACTED:authorization]"),
    ("authorization = 'token s3cret'", "authorization = 'token [REDACTED:authorization]'"),
    ("headers: Bearer abcdef123", "headers: Bearer [REDACTED:bearer]"),
    ("https://user:pa55word@example.com/x", "https://[REDACTED:url_auth]@example.com/x"),
    ("redis://:onlypassword@localhost:6379", "redis://[REDACTED:url_auth]@localhost:6379"),
    ("Authorization: Bearer abcdef", "Authorization: [REDACTED:key_value] "
     "[REDACTED:authorization]"),  # key=value also takes "Bearer": over-redaction is fine
    ("GET /tracks?client_id=AbCdEf123456&limit=5",
     "GET /tracks?client_id=[REDACTED:query_secret]&limit=5"),
    ("https://api.soundcloud.com/x?Client_Secret=zz99&sig=abc",
     "https://api.soundcloud.com/x?Client_Secret=[REDACTED:query_secret]"
     "&sig=[REDACTED:query_secret]"),
    ('{"client_secret": "s3cr3tvalue"}', '{"client_secret": "[REDACTED:key_value]"}'),
    ("PASSWORD => hunter22", "PASSWORD => [REDACTED:key_value]"),
    ("api-key: 1234567890", "api-key: [REDACTED:key_value]"),
    ("token_count: 123456", "token_count: [REDACTED:key_value]"),  # over-redacts by design
    ("token: short", "token: short"),  # fewer than 6 characters
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----\nafter",
     "[REDACTED:private_key]\nafter"),
    (f"jwt {JWT} end", "jwt [REDACTED:jwt] end"),
    (f"x-{JWT}", "x-[REDACTED:jwt]"),
    ("ghp_" + "a" * 36, "[REDACTED:github_token]"),
    ("github_pat_" + "b" * 82, "[REDACTED:github_token]"),
    ("xghp_" + "a" * 36, "xghp_" + "a" * 36),  # not at a word boundary
    ("nothing secret here, 12 tracks scanned", "nothing secret here, 12 tracks scanned"),
])
def test_patterns(text: str, expected: str) -> None:
    """Each kind of the anchors' table, with what must stay."""
    assert redact(text) == expected


def test_known_values_first_longest_first_and_short_ones_skipped() -> None:
    """Exact known secrets are replaced before any pattern; < 6 chars are ignored."""
    r = Redactor(["abc", "sc-client-123", "sc-client-123-secret-part"])
    assert r("a sc-client-123-secret-part b sc-client-123 c abc") == (
        "a [REDACTED:secret] b [REDACTED:secret] c abc")
    assert r.known == ("sc-client-123-secret-part", "sc-client-123")


def test_known_webhook_url_is_replaced_whole() -> None:
    """A configured webhook URL goes as one piece, not as a URL with a token inside."""
    assert Redactor([WEBHOOK])(f"posting to {WEBHOOK}") == "posting to [REDACTED:secret]"


def test_already_redacted_text_is_stable() -> None:
    """Redacting twice changes nothing more."""
    text = f"Authorization: Bearer {TOKEN} client_secret=abcdefgh {WEBHOOK}"
    once = redact(text)
    assert redact(once) == once
    assert TOKEN not in once and "abcdefgh" not in once


def test_kinds_are_listed_in_application_order() -> None:
    """The list of kinds: known values first, then the anchors' table order."""
    assert KINDS == ("secret", "discord_webhook", "discord_token", "aws_key_id",
                     "authorization", "bearer", "cookie", "url_auth", "query_secret",
                     "key_value", "private_key", "jwt", "github_token")


def test_nul_bytes_and_odd_input_never_raise() -> None:
    """NULs, lone surrogates and non-str input are handled."""
    assert redact(f"a\x00{TOKEN}\x00b") == "a\x00[REDACTED:discord_token]\x00b"
    assert redact("\ud800 token=abcdefgh") == "\ud800 token=[REDACTED:key_value]"
    assert redact(b"bytes") == "b'bytes'"  # type: ignore[arg-type]  # wrong input on purpose
    assert redact("") == ""


def test_failure_withholds_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """If something inside fails, nothing of the text is returned."""
    r = Redactor()
    monkeypatch.setattr(r, "_redact", lambda text: 1 / 0)
    assert r(TOKEN) == UNREDACTABLE


def test_dotted_capital_i_keeps_positions() -> None:
    """"İ" lower-cases to two characters; matching on the lower-case text stays aligned."""
    assert redact("İİİ Authorization: Bot abc.def") == (
        "İİİ Authorization: Bot [REDACTED:authorization]")
    assert redact("İ" * 40 + " token=abcdefgh") == "İ" * 40 + " token=[REDACTED:key_value]"


ADVERSARIAL = {
    "a.a": "a." * 5_000_000,
    "ey-": "ey-" * 3_400_000,
    "authorization + spaces": "authorization:" + " " * 10_000_000,
    "token + spaces": "token" + " " * 10_000_000 + "x",
    "BEGIN without END": "-----BEGIN PRIVATE KEY-----" * 370_000,
    "M + word run": "M" + "a" * 10_000_000,
    "// + colons": "//" + "a:" * 5_000_000,
    "&token=": "&token=" * 1_400_000,
    "bearer": "bearer " * 1_400_000,
    "NUL": "\x00" * 10_000_000,
    "tokentoken": "token" * 2_000_000,
    "password: x": "password: x " * 850_000,
    "ey segments": "eyAAAAAAAAAAAA." * 700_000,
    "spaces then .ey": " " * 10_000_000 + ".ey",
    "Authorization: Bearer": "Authorization: Bearer " * 450_000,
    "İ": "İ" * 5_000_000 + " token=abcdefgh",
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_ten_megabytes_of_adversarial_input_finishes(name: str) -> None:
    """No catastrophic backtracking: a quadratic pattern would take hours on ~10 MB of
    these shapes, a linear one takes seconds. The bound is that difference, generous for a
    loaded CI machine with coverage on; the speed itself is a benchmark's business."""
    text = ADVERSARIAL[name]
    start = time.perf_counter()
    out = Redactor([TOKEN])(text)
    assert time.perf_counter() - start < 60.0
    assert out != UNREDACTABLE


def test_redact_then_truncate_redacts_before_cutting() -> None:
    """A token at the cut point cannot survive as a fragment."""
    text = "x" * 50 + " " + TOKEN + " tail"
    out = redact_then_truncate(text, 60, redact)
    assert len(out) <= 60 and TOKEN[:8] not in out
    assert out.endswith("…")
    assert redact_then_truncate("short", 60, redact) == "short"
    assert redact_then_truncate("abcdef", 1, redact) == "a"


@pytest.mark.parametrize(("text", "expected"), [
    ("no fences", "no fences"),
    ("a ``` b", "a `\u200b`\u200b` b"),
    ("````", "`\u200b`\u200b`\u200b`"),
    ("single ` tick", "single ` tick"),
])
def test_escape_code_block(text: str, expected: str) -> None:
    """No two backticks stay adjacent, so no fence can close the block."""
    assert escape_code_block(text) == expected
    assert "``" not in escape_code_block(text)
