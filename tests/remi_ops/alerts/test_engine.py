"""The alert engine's lifecycle, as tables of checks on a FakeClock."""

from __future__ import annotations

from typing import Any

import pytest
from bubabot_local.alertkit import Harness, T, cond, summary
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from remi_ops.alerts.engine import AlertEngine
from remi_ops.alerts.model import AlertKey, Condition, Notification, NotificationType
from remi_ops.domain import Severity

# each step: (seconds to advance, kinds observed as true — None means only flush, expected)
Step = tuple[float, list[str] | None, list[tuple[str, list[str]]]]
LIFECYCLE: dict[str, tuple[dict[str, Any], list[Step]]] = {
    "pending until for_checks true checks, then group wait": ({"for_checks": 3}, [
        (0, ["hang"], []), (60, ["hang"], []), (60, ["hang"], []),
        (29, None, []), (1, None, [("firing", ["hang"])]),
    ]),
    "pending that clears never fires": ({"for_checks": 3}, [
        (0, ["hang"], []), (60, ["hang"], []), (60, [], []), (60, ["hang"], []),
        (600, None, []),
    ]),
    "down needs no second check": ({"for_checks": 3}, [
        (0, ["down"], []), (30, None, [("firing", ["down"])]),
    ]),
    "group wait merges two alerts into one message": ({}, [
        (0, ["down"], []), (10, ["down", "duplicate"], []),
        (20, None, [("firing", ["down", "duplicate"])]),
    ]),
    "resolved within group wait is never sent": ({}, [
        (0, ["down"], []), (10, [], []), (20, None, []), (3600, None, []),
    ]),
    "keep_firing_for: a short recovery does not resolve": ({"keep_firing_for_s": 120.0}, [
        (0, ["down"], []), (30, None, [("firing", ["down"])]),
        (30, [], []), (60, ["down"], []), (60, [], []), (60, [], []),
        (60, [], [("resolved", ["down"])]),
    ]),
    "resolution is timer driven, even without checks": ({"keep_firing_for_s": 120.0}, [
        (0, ["down"], []), (30, None, [("firing", ["down"])]), (30, [], []),
        (119, None, []), (1, None, [("resolved", ["down"])]),
    ]),
    "new alert in a notified group waits for group interval": ({}, [
        (0, ["down"], []), (30, None, [("firing", ["down"])]),
        (60, ["down", "duplicate"], []), (239, None, []),
        (1, None, [("firing", ["duplicate"])]),
    ]),
    "resolutions are not held by group interval": ({}, [
        (0, ["down", "duplicate"], []), (30, None, [("firing", ["down", "duplicate"])]),
        (10, ["down"], [("update", ["down", "duplicate"])]),
        (10, [], [("resolved", ["down", "duplicate"])]),
    ]),
    "a new outage after recovery is a new message with group wait": ({}, [
        (0, ["down"], []), (30, None, [("firing", ["down"])]),
        (60, [], [("resolved", ["down"])]), (60, ["down"], []),
        (30, None, [("firing", ["down"])]),
    ]),
    "inhibition: errors, scan test, unhealthy muted while down": ({}, [
        (0, ["down", "scan_test", "unhealthy", "error_group:fp1"], []),
        (30, None, [("firing", ["down"])]),
        (60, ["down", "scan_test", "unhealthy"], []),
        # the errors group never sent anything: its first post goes at once; the health
        # group just sent the resolution, so its new alerts wait one group interval
        (60, ["scan_test", "unhealthy"], [
            ("resolved", ["down"]), ("firing", ["error_group/fp1"])]),
        (299, None, []), (1, None, [("firing", ["scan_test", "unhealthy"])]),
    ]),
    "hang and gave_up inhibit too, duplicate is not inhibited": ({}, [
        (0, ["hang", "gave_up", "duplicate", "unhealthy"], []),
        (30, None, [("firing", ["duplicate", "gave_up", "hang"])]),
    ]),
}


@pytest.mark.parametrize("name", list(LIFECYCLE))
def test_lifecycle(name: str) -> None:
    """Each table row: advance, observe (or just flush), compare what was sent."""
    overrides, steps = LIFECYCLE[name]
    h = Harness(**overrides)
    for number, (advance, kinds, expected) in enumerate(steps):
        h.clock.advance(advance)
        if kinds is None:
            got = h.flush()
        else:
            conds = [cond(*k.split(":")) for k in kinds]
            got = h.check(*conds)
        assert summary(got) == expected, f"step {number} ({advance}s, {kinds})"


def test_resolved_notification_carries_downtime() -> None:
    """Downtime runs from the first true check to the first healthy one."""
    h = Harness(keep_firing_for_s=120.0)
    h.check(cond("down"))
    h.wait(30)
    h.clock.advance(600)
    h.check()  # healthy at t=630
    h.clock.advance(120)
    (resolved,) = h.check()
    assert resolved.type is NotificationType.RESOLVED
    assert resolved.downtime_s == 630.0
    assert "10m 30s" in resolved.title
    assert resolved.message_key == h.sent[0].message_key  # an edit of the firing post


def test_firing_notification_shape() -> None:
    """One message per outage: severity is the max, keys listed, stable message key."""
    h = Harness()
    h.check(cond("down", severity=Severity.PAGE, summary="process not running"),
            cond("duplicate", severity=Severity.WARNING))
    (n,) = h.wait(30)
    assert n.severity is Severity.PAGE
    assert n.group_key == "remi:health" and n.thread_key == "remi:health"
    assert n.keys == (AlertKey(T, "down"), AlertKey(T, "duplicate"))
    assert n.counts["firing"] == 2
    assert n.lines[0].startswith("[FIRING] down — process not running")
    assert Notification.from_dict(n.to_dict()) == n


@pytest.mark.parametrize("acked", [False, True])
def test_repeat_every_four_hours_unless_acked(acked: bool) -> None:
    """Unacknowledged firing alerts are re-posted on repeat_interval; an ack stops that."""
    h = Harness(repeat_interval_s=4 * 3600.0)
    h.check(cond("down"))
    (first,) = h.wait(30)
    if acked:
        assert h.engine.ack(h.clock.now(), first.alerts[0].alert_id, "ops") == [AlertKey(T, "down")]
        (edit,) = h.flush()
        assert edit.type is NotificationType.UPDATE and edit.ack_by == "ops"
    assert h.wait(4 * 3600 - 1) == []
    repeats = h.wait(1)
    if acked:
        assert repeats == []
    else:
        assert summary(repeats) == [("repeat", ["down"])]
        assert repeats[0].details["original_message_keys"] == [first.message_key]
        assert repeats[0].message_key != first.message_key
        assert h.wait(4 * 3600) and h.sent[-1].type is NotificationType.REPEAT


def test_ack_by_message_key_and_key() -> None:
    """Buttons ack by message; commands ack by key; unknown refs ack nothing."""
    h = Harness()
    h.check(cond("down"), cond("duplicate"))
    (n,) = h.wait(30)
    assert h.engine.ack(h.clock.now(), n.message_key, "ann") == sorted(n.keys)
    assert h.engine.ack(h.clock.now(), AlertKey(T, "down"), "ann") == [AlertKey(T, "down")]
    assert h.engine.ack(h.clock.now(), "nope", "ann") == []


def test_ack_is_cleared_by_a_new_episode() -> None:
    """An acknowledgement belongs to one outage, not to the alert forever."""
    h = Harness()
    h.check(cond("down"))
    h.wait(30)
    h.engine.ack(h.clock.now(), AlertKey(T, "down"), "ann")
    h.check()  # resolved
    h.clock.advance(60)
    h.check(cond("down"))
    (again,) = h.wait(30)
    assert again.type is NotificationType.FIRING and again.ack_by is None

# ---------------------------------------------------------------------- flapping


def test_flapping_sends_one_notification_then_holds() -> None:
    """N flips within the window → one "flapping" message, then quiet until stable."""
    h = Harness(group_wait_s=0.0, group_interval_s=0.0, flap_changes=4, flap_window_s=900.0)
    types = []
    for _ in range(6):  # up/down every minute for 12 minutes
        types += [n.type.value for n in h.check(cond("down"))]
        h.clock.advance(60)
        types += [n.type.value for n in h.check()]
        h.clock.advance(60)
    assert types == ["firing", "resolved", "firing", "flapping"]
    assert [a.state.value for a in h.sent[-1].alerts] == ["flapping"]
    # stable (false) for the whole window → one resolution, then silence
    assert h.wait(839) == []  # the last flip was at t=660; now is t=720
    assert summary(h.wait(1)) == [("resolved", ["down"])]
    assert h.wait(3600) == []


def test_flapping_that_settles_firing_becomes_steady() -> None:
    """When it stays true for the window, the message turns back into a plain firing one."""
    h = Harness(group_wait_s=0.0, group_interval_s=0.0, flap_changes=3, flap_window_s=600.0)
    for _ in range(2):
        h.check(cond("down"))
        h.clock.advance(60)
        h.check()
        h.clock.advance(60)
    assert h.sent[-1].type is NotificationType.FLAPPING
    h.check(cond("down"))
    h.clock.advance(600)
    (n,) = h.check(cond("down"))
    assert n.type is NotificationType.UPDATE and n.alerts[0].state.value == "firing"


# ---------------------------------------------------------------------- error groups


def test_error_groups_post_new_then_update_counts_then_repost_on_regression() -> None:
    """New fingerprint → post; repeats → throttled edits with the count; regression → post."""
    h = Harness(group_wait_s=0.0)
    (posted,) = h.check(cond("error_group", "fp1", count=1))
    assert posted.type is NotificationType.FIRING and posted.group_key == "remi:errors"
    h.clock.advance(60)
    assert h.check(cond("error_group", "fp1", count=5)) == []  # within group interval
    h.clock.advance(240)
    (edit,) = h.flush()
    assert edit.type is NotificationType.UPDATE and edit.message_key == posted.message_key
    assert edit.alerts[0].count == 5 and "×5" in edit.lines[0]
    h.clock.advance(60)
    assert h.check() == []  # absence does not resolve an occurrence alert
    h.clock.advance(86400)
    (quiet,) = h.flush()
    assert quiet.type is NotificationType.RESOLVED and quiet.message_key == posted.message_key
    h.clock.advance(60)
    (again,) = h.check(cond("error_group", "fp1", count=6))
    assert again.type is NotificationType.FIRING and again.message_key != posted.message_key


def test_many_new_error_groups_are_one_message() -> None:
    """A burst of new fingerprints in one check is one post, not a flood."""
    h = Harness()
    h.check(*(cond("error_group", f"fp{i}") for i in range(50)))
    notes = h.wait(30)
    assert len(notes) == 1 and len(notes[0].alerts) == 50


def test_error_group_explicitly_resolved() -> None:
    """``active=False`` on an occurrence alert (someone resolved it) closes it at once."""
    h = Harness(group_wait_s=0.0)
    h.check(cond("error_group", "fp1"))
    done = Condition(AlertKey(T, "error_group", "fp1"), active=False)
    assert summary(h.check(done)) == [("resolved", ["error_group/fp1"])]


def test_an_error_group_declared_over_resolves_and_its_next_occurrence_fires_anew() -> None:
    """``resolve`` by a person: the alert resolves now; the group coming back is a new post,
    and the level alerts of the target are left alone."""
    h = Harness(group_wait_s=0.0, group_interval_s=0.0, for_checks=1)
    h.check(cond("error_group", "fp1"), cond("unhealthy"))
    assert h.engine.declare_over(h.clock.now(), AlertKey(T, "error_group", "fp1"))
    assert summary(h.flush()) == [("resolved", ["error_group/fp1"])]
    assert [str(line.key) for line in h.engine.alerts(T)] == ["remi/unhealthy"]
    assert not h.engine.declare_over(h.clock.now(), AlertKey(T, "error_group", "fp1"))
    assert not h.engine.declare_over(h.clock.now(), AlertKey(T, "unhealthy"))  # a level kind
    h.clock.advance(60)
    assert summary(h.check(cond("error_group", "fp1"), cond("unhealthy"))) == [
        ("firing", ["error_group/fp1"])]


# ---------------------------------------------------------------------- events


def test_events_skip_group_wait_merge_per_flush_and_obey_silences() -> None:
    """One-shot events go at the next flush, one message per target; silences apply."""
    h = Harness()
    now = h.clock.now()
    h.engine.event(now, AlertKey(T, "restart"), Severity.INFO, "restarted (crash)")
    h.engine.event(now, AlertKey(T, "escalation"), Severity.PAGE, "gave up after 5 restarts")
    h.engine.event(now, AlertKey("other", "restart"), Severity.INFO, "restarted")
    h.engine.silence(now, {"target": "other"}, 600, "ann", "")
    (n,) = h.flush()
    assert n.type is NotificationType.EVENT and n.severity is Severity.PAGE
    assert len(n.alerts) == 2 and n.group_key == "remi:events"
    assert h.flush() == []


def test_conditions_must_belong_to_the_observed_target() -> None:
    h = Harness()
    with pytest.raises(ValueError, match="does not belong"):
        h.engine.observe(h.clock.now(), T, [cond("down", target="other")])


def test_targets_are_independent() -> None:
    """Observing one target never resolves another's alerts."""
    h = Harness()
    h.check(cond("down"))
    h.check(cond("down", target="bubabot"), target="bubabot")
    notes = h.wait(30)
    assert sorted(n.target for n in notes) == ["bubabot", "remi"]
    h.clock.advance(10)
    assert summary(h.check(target="bubabot")) == [("resolved", ["down"])]

def test_a_quiet_check_leaves_nothing_for_the_flush() -> None:
    """A check that moved no alert marks no group for the next flush (nothing to look at),
    while one whose alert moved still does."""
    h = Harness()
    h.check(cond("down"))
    h.wait(30)
    h.check(cond("down"))
    h.engine.observe(h.clock.now(), "bubabot", [])  # a quiet target: nothing to look at
    due = h.engine.next_due(h.clock.now())
    assert due is not None and due > h.clock.now()  # only "down"'s repeat, hours away
    h.engine.observe(h.clock.now(), T, [])  # "down" is false now: its group has work
    assert h.engine.next_due(h.clock.now()) == h.clock.now()


# ---------------------------------------------------------------------- invariants


KINDS = ["down", "hang", "unhealthy", "scan_test", "duplicate", "error_group:a", "error_group:b"]
steps_strategy = st.lists(st.tuples(
    st.sampled_from([0, 5, 30, 60, 61, 120, 300, 900, 3600, 4 * 3600]),
    st.frozensets(st.sampled_from(KINDS)),
    st.sampled_from(["check", "check", "check", "flush", "ack", "reload"])), max_size=40)


@hyp_settings(max_examples=150, deadline=None, derandomize=True)
@given(steps=steps_strategy, keep=st.sampled_from([0.0, 60.0, 120.0]),
       for_checks=st.sampled_from([1, 2]), wait=st.sampled_from([0.0, 30.0]))
def test_invariants_hold_for_any_sequence_of_checks(
        steps: list[tuple[int, frozenset[str], str]], keep: float, for_checks: int,
        wait: float) -> None:
    """Edits only touch posted, still-open messages; timers never point to the past;
    reloading the state mid-way never re-announces anything."""
    h, twin = (Harness(keep_firing_for_s=keep, for_checks=for_checks, group_wait_s=wait,
                       group_interval_s=60.0, flap_changes=4, flap_window_s=600.0)
               for _ in range(2))
    posted: set[str] = set()
    closed: set[str] = set()
    for advance, kinds, action in steps:
        if action == "reload":  # only h restarts; twin runs on, and must say the same
            h.engine = AlertEngine.from_dict(h.engine.to_dict(), h.settings, new_id=h.new_id)
        for x in (h, twin):
            x.clock.advance(advance)
            if action == "ack":
                for line in x.engine.alerts():
                    x.engine.ack(x.clock.now(), line.alert_id, "ops")
        if action == "flush":
            got, expected = h.flush(), twin.flush()
        else:
            conds = [cond(*k.split(":")) for k in sorted(kinds)]
            got, expected = h.check(*conds), twin.check(*conds)
        assert [n.to_dict() for n in got] == [n.to_dict() for n in expected]
        for n in got:
            if n.type in (NotificationType.UPDATE, NotificationType.RESOLVED) or (
                    n.type is NotificationType.FLAPPING and n.message_key in posted):
                assert n.message_key in posted and n.message_key not in closed
            else:
                assert n.message_key not in posted, "a post never reuses a message key"
                posted.add(n.message_key)
            if n.type is NotificationType.RESOLVED:
                closed.add(n.message_key)
                assert n.downtime_s is not None and n.downtime_s >= 0
        due = h.engine.next_due(h.clock.now())
        assert due is None or due > h.clock.now()
