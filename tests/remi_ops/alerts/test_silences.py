"""Silences: glob matchers, expiry, early expiry and what a silence may not be."""

from __future__ import annotations

import pytest
from bubabot_local.alertkit import Harness, T, cond, summary

# ---------------------------------------------------------------------- silences


SILENCE_MATCH = [
    ({"target": T}, "down", "", True),
    ({"target": "other"}, "down", "", False),
    ({"kind": "error_group", "fingerprint": "ab*"}, "error_group", "abc1", True),
    ({"kind": "error_group", "fingerprint": "ab*"}, "error_group", "zz", False),
    ({"target": "re?i", "kind": "d*"}, "down", "", True),
]


@pytest.mark.parametrize(("matchers", "kind", "fp", "muted"), SILENCE_MATCH)
def test_silence_matching(matchers: dict[str, str], kind: str, fp: str, muted: bool) -> None:
    """Matchers are globs over target, kind and fingerprint; all must match."""
    h = Harness()
    h.engine.silence(h.clock.now(), matchers, 3600, "ann", "deploying")
    h.check(cond(kind, fp))
    assert bool(h.wait(30)) is not muted


def test_silence_expiry_releases_still_firing_alerts() -> None:
    """A silence always ends; an alert still firing then is announced."""
    h = Harness()
    h.engine.silence(h.clock.now(), {"target": T}, 600, "ann", "maintenance")
    h.check(cond("down"))
    assert h.wait(30) == []
    assert h.wait(569) == []
    assert summary(h.wait(1)) == [("firing", ["down"])]


def test_expire_silence_early() -> None:
    """Expiring a silence by id unmutes at once."""
    h = Harness()
    s = h.engine.silence(h.clock.now(), {"kind": "down"}, 3600, "ann", "")
    h.check(cond("down"))
    assert h.wait(30) == []
    assert h.engine.silences(h.clock.now()) == [s]
    h.engine.expire_silence(h.clock.now(), s.id)
    assert h.engine.silences(h.clock.now()) == []
    assert summary(h.flush()) == [("firing", ["down"])]


@pytest.mark.parametrize(("matchers", "duration"), [
    ({"target": T}, 7 * 86400 + 1),
    ({"target": T}, 0),
    ({}, 60),
    ({"severity": "page"}, 60),
])
def test_silence_rejects(matchers: dict[str, str], duration: float) -> None:
    """No silence longer than silence_max_s (7 d), none without matchers or on unknown labels."""
    h = Harness()
    with pytest.raises(ValueError):
        h.engine.silence(h.clock.now(), matchers, duration, "ann", "")


def test_silenced_alert_still_resolves_its_message() -> None:
    """Silencing after the post still lets the resolution close the message."""
    h = Harness()
    h.check(cond("down"))
    h.wait(30)
    h.engine.silence(h.clock.now(), {"target": T}, 3600, "ann", "")
    assert summary(h.check()) == [("resolved", ["down"])]
