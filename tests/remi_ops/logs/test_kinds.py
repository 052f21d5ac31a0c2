"""The kind rules' first-line signals, read with one search for any signal word before the
cache, equal what the rules themselves find (kept here, callable, without any pre-test):
the words of the rules that match in any case are looked for in any case."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from remi_ops.domain import LogKind
from remi_ops.logs import kinds
from remi_ops.logs.kinds import _BEHIND, _BLOCKED, _GATEWAY, _RATE, _RECONNECT, _STOPPED, FATAL
from remi_ops.logs.kinds import _TIMEOUT_TEXT as TIMEOUT_TEXT

#: the words as they were before the search (a copy: the module's list may not drift)
WORDS = ("Improper token", "LoginFailure", "rivileged", "40", "heartbeat blocked",
         "keep up", "stopped responding", "ttempting", "TTEMPTING", "rate limit", "429",
         "ratelimited", "imed", "IMED", "TimeoutError", "has connected to Gateway",
         "RESUMED", "invalidated")
FRAGMENTS = (*WORDS, "Improper token has been passed", "closed with 4004", "code= 4014",
             "heartbeat blocked for more than 12.5 seconds", "has stopped responding to the "
             "gateway", "Can't keep up, shard ID 3 websocket is 61.2s behind",
             "Attempting a reconnect", "ATTEMPTING A RECONNECT", "attempting a Reconnect",
             "We are being rate limited", "responded with 429", "is ratelimited",
             "timed out", "TIMED OUT", "successfully RESUMED", "session has been invalidated",
             "PrivilegedIntentsRequired", "requesting privileged intents", "Scan of track ",
             "4", "0", "9", " ", "ok", "é", "AtTempting a reconnect", "TiMeD OuT",
             "timeouterror", "TIMEOUTERROR", "attempting", "ı", "İ", "K", "ſ")


def present_signals(first: str) -> kinds._Signals:
    """The rules' findings, every rule read on every line."""
    blocked = _BLOCKED.search(first)
    behind = _BEHIND.search(first)
    seconds = blocked or behind
    return kinds._Signals(fatal=FATAL.search(first) is not None,
                          hang=blocked is not None or _STOPPED in first,
                          blocked_s=float(seconds[1]) if seconds else None,
                          behind=behind is not None,
                          reconnect=_RECONNECT.search(first) is not None,
                          rate=_RATE.search(first) is not None,
                          timeout=TIMEOUT_TEXT.search(first) is not None,
                          gateway=any(text in first for text, _ in _GATEWAY))


first_lines = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)),
                       max_size=6).map("".join)


@settings(max_examples=600, deadline=None)
@given(first_lines)
@example("Read t\u0130med out")  # İ: a case-blind regex lowers it to i, str.lower() does not
@example("attempt\u0131ng a reconnect")  # a dotless ı, which a case-blind regex takes for i
@example("Read TIMED OUT")
def test_signals_equal_the_substring_tests(first: str) -> None:
    assert kinds._signals(first) == present_signals(first)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "")),
       st.sampled_from(("remi.scan", "discord", "discord.gateway", "discordx", "")),
       first_lines, st.booleans(), st.booleans(), st.booleans())
def test_kind_of_reads_the_same_signals(level: str, logger: str, first: str, has_exc: bool,
                                        fatal: bool, timeout: bool) -> None:
    """kind_of over the new signals gives what the old signals would give it."""
    got = kinds.kind_of(level, logger, first, has_exc=has_exc, exc_fatal=fatal,
                        exc_timeout=timeout)
    original = kinds._signals
    try:
        kinds._signals = present_signals  # the reference rules
        want = kinds.kind_of(level, logger, first, has_exc=has_exc, exc_fatal=fatal,
                             exc_timeout=timeout)
    finally:
        kinds._signals = original  # put back
    assert got == want


def test_every_word_is_searched() -> None:
    """A line holding only one signal word is read by the rules (not cut short)."""
    for word in kinds._SIGNAL_WORDS:
        assert kinds.has_signal_word(f"x {word} y")
        assert kinds.has_signal_word(f"\u00e9 {word}")
    for word in kinds._ANY_CASE_WORDS:  # in any case, in ASCII lines and others
        for line in (f"x {word} y", f"\u00e9 {word.upper()} y", f"x {word.upper()}",
                     f"x {word.title()}"):
            assert kinds.has_signal_word(line)


def test_words_of_rules_that_ignore_case_are_found_in_any_case() -> None:
    """``Read TiMeD OuT`` is a timeout and ``AtTempting a reconnect`` a gateway event, as
    their rules say (they were INFO/ERROR when the pre-test looked for two spellings)."""
    assert kinds.kind_of("ERROR", "remi.scan", "Read TiMeD OuT")[0] is LogKind.TIMEOUT
    assert kinds.kind_of("ERROR", "remi.scan", "got timeouterror")[0] is LogKind.TIMEOUT
    assert kinds.kind_of("WARNING", "discord.gateway",
                         "Shard ID None: AtTempting a reconnect")[0] is LogKind.GATEWAY
