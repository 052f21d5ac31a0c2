"""The incident as one short story: what the watcher acts on goes out at once, before the
action's report; what already recovered is never posted; a stale or flapping outage never
hides a new error group."""

from __future__ import annotations

from typing import Any

from bubabot_local.alertkit import Harness, T, cond, summary

from remi_ops.alerts.model import AlertKey, NotificationType
from remi_ops.domain import Severity

STACK = 'File "remi/soundcloud.py", line 41, in fetch_track\n    time.sleep(850)'


def restarted(h: Harness, trigger: str) -> None:
    """What ``act.ActionRunner`` reports after a restart (as the hub passes it on)."""
    details: dict[str, Any] = {"restart": {"trigger": trigger, "evidence": STACK}}
    h.engine.event(h.clock.now(), AlertKey(T, "restart"), Severity.WARNING,
                   f"restarted ({trigger})", details)


def test_a_hang_the_watcher_restarts_for_is_posted_at_once_before_the_report() -> None:
    """for_checks 2 and group_wait 30 s (the example config) hold neither: the hang alert
    with its stack goes out in the same flush as the restart, and first."""
    h = Harness(for_checks=2, keep_firing_for_s=120.0)
    hang = cond("hang", severity=Severity.PAGE, summary="event loop blocked for 60 s")
    hang = hang.__class__(hang.key, hang.severity, hang.summary, {"evidence": STACK})
    h.engine.observe(h.clock.now(), T, [hang])
    restarted(h, "hang")
    sent = h.flush()
    assert summary(sent) == [("firing", ["hang"]), ("event", ["restart"])]
    assert sent[0].alerts[0].details["evidence"] == STACK
    h.clock.advance(3)
    assert h.check() == []  # recovered: nothing new until keep_firing_for ends
    (resolved,) = h.wait(120)
    assert resolved.type is NotificationType.RESOLVED
    assert resolved.message_key == sent[0].message_key  # the same message, edited
    h.check(cond("hang"))  # a hang already gone when the restart is reported
    h.clock.advance(5)
    h.check()
    restarted(h, "hang")
    assert summary(h.flush()) == [("event", ["restart"])]  # only the report


def test_a_death_restarted_after_backoff_posts_down_with_the_restart_not_after_recovery(
) -> None:
    """A second crash waits out its backoff while the down alert sits in group_wait: the
    restart sends it at once; once Remi is back no "down" page follows."""
    h = Harness(keep_firing_for_s=120.0)
    assert h.check(cond("down", severity=Severity.PAGE)) == []
    restarted(h, "operator")  # a restart for another reason does not rush it
    assert summary(h.flush()) == [("event", ["restart"])]
    h.clock.advance(1)
    restarted(h, "crash")
    assert summary(h.flush()) == [("firing", ["down"]), ("event", ["restart"])]
    h.clock.advance(2)
    assert h.check() == []
    assert summary(h.wait(30)) == []
    assert summary(h.wait(90)) == [("resolved", ["down"])]


def test_a_down_that_recovered_within_group_wait_never_pages() -> None:
    """Still firing by hysteresis (keep_firing_for) is not a reason to page."""
    h = Harness(keep_firing_for_s=120.0)
    h.check(cond("down", severity=Severity.PAGE))
    h.clock.advance(2)
    h.check()
    assert h.wait(28) == []
    assert h.wait(3600) == []
    assert h.sent == []




def test_a_stale_down_does_not_hide_a_new_error_group() -> None:
    """Remi is back (down firing on by keep_firing_for): a new error is news at once."""
    h = Harness(keep_firing_for_s=600.0)
    h.check(cond("down"), cond("error_group", "fp0"))
    assert summary(h.wait(30)) == [("firing", ["down"])]  # really down: errors muted
    h.clock.advance(10)
    got = h.check(cond("error_group", "fp1"))
    assert summary(got) == [("firing", ["error_group/fp0", "error_group/fp1"])]


def test_a_flapping_down_does_not_hide_a_new_error_group() -> None:
    h = Harness(group_wait_s=0.0, group_interval_s=0.0, flap_changes=4, flap_window_s=900.0)
    sent = []
    for _ in range(2):
        sent += h.check(cond("down"))
        h.clock.advance(60)
        sent += h.check()
        h.clock.advance(60)
    assert summary(sent)[-1] == ("flapping", ["down"])
    got = h.check(cond("down"), cond("error_group", "fp2"))
    assert summary(got) == [("firing", ["error_group/fp2"])]



def test_a_warning_that_becomes_the_hang_is_edited_into_it_not_posted_twice() -> None:
    """"Blocked for 22 s" went out first (with the stack); the hang joins that message, so
    the stack is shown once and the report replies to the message that has it."""
    h = Harness(keep_firing_for_s=120.0)
    h.check(cond("unhealthy", summary="event loop blocked for 22 s"))
    (warning,) = h.wait(30)
    h.clock.advance(8)
    h.engine.observe(h.clock.now(), T, [cond("hang", severity=Severity.PAGE)])
    restarted(h, "hang")
    update, report = h.flush()
    assert summary([update, report]) == [("update", ["hang", "unhealthy"]), ("event",
                                                                              ["restart"])]
    assert update.message_key == warning.message_key
    assert update.details["escalated"] == [f"{T}/hang"]
    assert update.severity is Severity.PAGE
    h.clock.advance(3)
    assert h.check() == []
    (resolved,) = h.wait(120)
    assert resolved.type is NotificationType.RESOLVED
    assert resolved.message_key == warning.message_key


def test_a_hang_restarted_for_is_posted_even_when_the_next_check_came_before_the_flush(
) -> None:
    """Found in local mode: the check after the restart (healthy) reached the engine before
    the flush that would have posted the hang, and the hang was dropped as "recovered"; the
    restart report then replied to an unrelated warning. Acted on means posted, first."""
    h = Harness(for_checks=2, keep_firing_for_s=120.0)
    hang = cond("hang", severity=Severity.PAGE, summary="event loop blocked for 60 s")
    hang = hang.__class__(hang.key, hang.severity, hang.summary, {"evidence": STACK})
    h.engine.observe(h.clock.now(), T, [hang])
    restarted(h, "hang")
    h.clock.advance(2)
    h.engine.observe(h.clock.now(), T, [])  # the recheck after the restart: healthy
    sent = h.flush()
    assert summary(sent) == [("firing", ["hang"]), ("event", ["restart"])]
    assert sent[0].alerts[0].details["evidence"] == STACK


def test_without_keep_firing_a_hang_restarted_for_is_still_posted_then_resolved() -> None:
    """keep_firing_for_s = 0: the healthy recheck would resolve the hang at once; it is
    posted first (with the report replying to it), and resolves at the next check."""
    h = Harness(for_checks=2, keep_firing_for_s=0.0)
    h.engine.observe(h.clock.now(), T, [cond("hang", severity=Severity.PAGE)])
    restarted(h, "hang")
    h.clock.advance(2)
    h.engine.observe(h.clock.now(), T, [])
    assert summary(h.flush()) == [("firing", ["hang"]), ("event", ["restart"])]
    h.clock.advance(2)
    (resolved,) = h.check()
    assert resolved.type is NotificationType.RESOLVED
