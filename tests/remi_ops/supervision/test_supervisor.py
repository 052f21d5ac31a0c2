"""The supervisor's transitions and restart policy, with a fake clock and no processes."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from remi_ops.clock import FakeClock
from remi_ops.config import RestartPolicy
from remi_ops.domain import ExitInfo, ProcessIdentity, Severity
from remi_ops.supervision.supervisor import (
    TRANSITIONS,
    Action,
    ActionKind,
    InvalidTransition,
    State,
    Supervisor,
)

IDENT = ProcessIdentity(pid=4242, create_time=1.0, cmdline=("python", "main.py"), cwd="/r")


def make(policy: RestartPolicy | None = None) -> tuple[Supervisor, FakeClock]:
    clock = FakeClock()
    sup = Supervisor("remi", policy or RestartPolicy(jitter=0.0), rng=random.Random(7))
    return sup, clock


def run(sup: Supervisor, clock: FakeClock, ident: ProcessIdentity = IDENT) -> None:
    """Bring the supervisor to RUNNING with ``ident`` started now."""
    sup.started(ident, clock.now(), clock.monotonic())
    clock.advance(sup.policy.start_seconds)
    sup.tick(clock.now(), clock.monotonic())
    assert sup.state is State.RUNNING


def crash(sup: Supervisor, clock: FakeClock, code: int | None = 1,
          pid: int = IDENT.pid) -> list[Action]:
    return sup.exited(ExitInfo(pid, code, None, clock.now()), clock.now(), clock.monotonic())


def kinds(actions: list[Action]) -> list[ActionKind]:
    return [a.kind for a in actions]


def test_every_state_has_a_row_in_the_table() -> None:
    """The transition table covers every state."""
    assert set(TRANSITIONS) == set(State)


@pytest.mark.parametrize(("source", "dest"), [
    (State.STOPPED, State.BACKOFF),
    (State.MAINTENANCE, State.GAVE_UP),
    (State.RUNNING, State.STARTING),
])
def test_edges_outside_the_table_are_refused(source: State, dest: State) -> None:
    """A transition that is not in the table raises instead of silently happening."""
    sup, clock = make()
    sup.state = source
    with pytest.raises(InvalidTransition):
        sup._change_state(dest, clock.now(), "test")


def test_adopting_a_running_process_starts_nothing() -> None:
    """A Remi already running is watched, not started a second time."""
    sup, clock = make()
    assert sup.adopted(IDENT, clock.now(), clock.monotonic()) == []
    assert sup.state is State.RUNNING
    assert sup.process == IDENT


def test_nothing_running_at_first_look_starts_it_at_once() -> None:
    """With nothing running, the first look asks for a start immediately."""
    sup, clock = make()
    actions = sup.not_running(clock.now(), clock.monotonic())
    assert kinds(actions) == [ActionKind.RESTART]
    assert sup.state is State.RESTARTING


def test_starting_becomes_running_after_start_seconds() -> None:
    """A started process counts as up only once it survived ``start_seconds``."""
    sup, clock = make(RestartPolicy(start_seconds=2, jitter=0))
    sup.started(IDENT, clock.now(), clock.monotonic())
    assert sup.state is State.STARTING
    clock.advance(1)
    sup.tick(clock.now(), clock.monotonic())
    assert sup.state is State.STARTING
    clock.advance(1)
    sup.tick(clock.now(), clock.monotonic())
    # tick() changed state; mypy keeps the narrowing from the assert above
    assert sup.state is State.RUNNING  # type: ignore[comparison-overlap]


def test_first_crash_after_stable_running_restarts_immediately() -> None:
    """A crash after stable uptime is restarted at once (no backoff)."""
    sup, clock = make()
    run(sup, clock)
    clock.advance(sup.policy.stable_after_s)
    actions = crash(sup, clock)
    assert kinds(actions) == [ActionKind.RESTART]
    assert actions[0].trigger == "crash"


@pytest.mark.parametrize(("crashes", "expected_delays"), [
    (4, [0.0, 1.0, 2.0, 4.0]),
])
def test_crash_loop_backs_off_exponentially(crashes: int, expected_delays: list[float]) -> None:
    """Repeated quick crashes wait 1 s, 2 s, 4 s … (the first one is immediate)."""
    sup, clock = make(RestartPolicy(jitter=0, budget_restarts=50))
    delays = []
    for _ in range(crashes):
        run(sup, clock)
        actions = crash(sup, clock)
        delay = 0.0 if actions else sup.seconds_until_due(clock.monotonic())
        assert delay is not None
        delays.append(delay)
        clock.advance(delay)
        if not actions:
            assert kinds(sup.tick(clock.now(), clock.monotonic())) == [ActionKind.RESTART]
    assert delays == expected_delays


def test_backoff_is_capped() -> None:
    """The delay never exceeds ``backoff_max_s``, jitter included."""
    sup, _ = make(RestartPolicy(jitter=0.5, backoff_max_s=300, budget_restarts=100))
    delays = [sup.next_delay(stable=False) for _ in range(20)]
    assert max(delays) <= 300
    assert delays[-1] > 100


def test_jitter_spreads_delays() -> None:
    """Two supervisors with jitter do not retry in lock step, and stay within ±20 %."""
    policy = RestartPolicy(jitter=0.2)
    delays = {round(Supervisor("x", policy, rng=random.Random(seed)).next_delay(stable=False), 3)
              for seed in range(5)}
    assert len(delays) > 1
    assert all(0.8 <= d <= 1.2 for d in delays)


def test_backoff_resets_after_stable_uptime() -> None:
    """Ten minutes of stable running forgets the crash loop."""
    sup, clock = make(RestartPolicy(jitter=0, budget_restarts=50))
    sup.backoff_level = 5
    run(sup, clock)
    clock.advance(sup.policy.stable_after_s)
    sup.tick(clock.now(), clock.monotonic())
    assert sup.backoff_level == 0


def test_budget_spent_gives_up_and_escalates_then_retries_slowly() -> None:
    """Five restarts in 15 minutes lead to GAVE_UP, a page, and a retry 30 min later."""
    sup, clock = make(RestartPolicy(jitter=0))
    for _ in range(5):
        run(sup, clock)
        crash(sup, clock)
        clock.advance(sup.seconds_until_due(clock.monotonic()) or 0)
        sup.tick(clock.now(), clock.monotonic())
    run(sup, clock)
    sup.drain_events()
    assert crash(sup, clock) == []
    assert sup.state is State.GAVE_UP
    events = sup.drain_events()
    escalations = [e for e in events if e.kind == "escalation"]
    assert len(escalations) == 1 and escalations[0].severity is Severity.PAGE
    assert sup.seconds_until_due(clock.monotonic()) == sup.policy.gave_up_retry_s
    clock.advance(sup.policy.gave_up_retry_s - 1)
    assert sup.tick(clock.now(), clock.monotonic()) == []
    clock.advance(1)
    actions = sup.tick(clock.now(), clock.monotonic())
    assert kinds(actions) == [ActionKind.RESTART]
    assert actions[0].trigger == "policy_retry"


def test_do_not_restart_exit_code_escalates_at_once() -> None:
    """An exit code listed as do-not-restart (a bad token) goes straight to a human."""
    sup, clock = make(RestartPolicy(no_restart_exit_codes=(78,)))
    run(sup, clock)
    assert crash(sup, clock, code=78) == []
    assert sup.state is State.GAVE_UP
    assert any(e.kind == "escalation" and "78" in e.summary for e in sup.drain_events())


def test_operator_stop_is_respected_when_the_process_exits() -> None:
    """After an operator stop, the exit is expected and nothing restarts it."""
    sup, clock = make()
    run(sup, clock)
    assert kinds(sup.operator_stop(clock.now(), "ana", "deploy")) == [ActionKind.STOP]
    assert crash(sup, clock, code=0) == []
    clock.advance(3600)
    assert sup.tick(clock.now(), clock.monotonic()) == []
    assert sup.state is State.STOPPED


def test_an_operator_start_undoes_a_stop() -> None:
    """Stop then start: the stop holds until a person starts it again, then it starts."""
    sup, clock = make()
    run(sup, clock)
    sup.operator_stop(clock.now(), "ana", "deploy")
    crash(sup, clock, code=0)
    actions = sup.operator_start(clock.now(), clock.monotonic(), "ana")
    assert kinds(actions) == [ActionKind.RESTART]
    assert sup.state is State.RESTARTING


def test_an_operator_restart_cuts_maintenance_short() -> None:
    """A restart asked for during maintenance ends it and restarts."""
    sup, clock = make()
    run(sup, clock)
    sup.enter_maintenance(clock.now(), clock.now() + timedelta(hours=1), "ana", "upgrade")
    actions = sup.operator_restart(clock.now(), clock.monotonic(), "ana", "upgraded")
    assert kinds(actions) == [ActionKind.RESTART]
    assert sup.state is State.RESTARTING and sup.maintenance_until is None


def test_exit_of_an_old_incarnation_is_ignored() -> None:
    """A late exit event for a previous pid does not disturb the new process."""
    sup, clock = make()
    run(sup, clock)
    assert crash(sup, clock, pid=999) == []
    assert sup.state is State.RUNNING


def test_hang_captures_evidence_before_restarting() -> None:
    """A hang asks for evidence first, then a restart."""
    sup, clock = make()
    run(sup, clock)
    actions = sup.unhealthy(clock.now(), "event loop blocked 75s", restart=True,
                            mono=clock.monotonic())
    assert kinds(actions) == [ActionKind.CAPTURE_EVIDENCE, ActionKind.RESTART]
    assert actions[1].trigger == "hang"


def test_degraded_without_restart_recovers() -> None:
    """A finding a restart cannot fix marks UNHEALTHY and clears when healthy again."""
    sup, clock = make()
    run(sup, clock)
    assert sup.unhealthy(clock.now(), "rss high", restart=False, mono=clock.monotonic()) == []
    assert sup.state is State.UNHEALTHY
    sup.healthy(clock.now())
    # healthy() changed state; mypy keeps the narrowing from the assert above
    assert sup.state is State.RUNNING  # type: ignore[comparison-overlap]


def test_maintenance_always_ends() -> None:
    """Maintenance needs an end in the future and ends by itself."""
    sup, clock = make()
    run(sup, clock)
    with pytest.raises(ValueError, match="future"):
        sup.enter_maintenance(clock.now(), clock.now(), "ana", "x")
    sup.enter_maintenance(clock.now(), clock.now() + timedelta(minutes=30), "ana", "upgrade")
    assert crash(sup, clock) == []  # hands off during maintenance
    clock.advance(30 * 60)
    actions = sup.tick(clock.now(), clock.monotonic())
    assert kinds(actions) == [ActionKind.RESTART]


def test_operator_restart_is_not_bound_by_the_gave_up_state() -> None:
    """A person can always ask for a restart, even after the watchdog gave up."""
    sup, clock = make()
    sup._give_up(clock.now(), clock.monotonic(), "test")
    actions = sup.operator_restart(clock.now(), clock.monotonic(), "ana", "fixed the token")
    assert kinds(actions) == [ActionKind.RESTART]
    assert actions[0].requested_by == "ana"


def test_every_change_emits_one_event() -> None:
    """Each state change is one state_changed event naming both states."""
    sup, clock = make()
    sup.not_running(clock.now(), clock.monotonic())
    events = sup.drain_events()
    assert [(e.data["from"], e.data["to"]) for e in events] == [("unknown", "restarting")]


def test_restore_keeps_operator_stop_and_maintenance() -> None:
    """An operator's stop survives a watcher restart."""
    sup, clock = make()
    run(sup, clock)
    sup.operator_stop(clock.now(), "ana", "deploy")
    fresh, _ = make()
    fresh.restore(sup.to_dict())
    assert fresh.state is State.STOPPED
    assert fresh.not_running(clock.now(), clock.monotonic()) == []


def test_seeded_restarts_count_against_the_budget() -> None:
    """Restarts from before a watcher restart still count toward the budget."""
    sup, clock = make(RestartPolicy(jitter=0))
    sup.seed_restarts([10, 20, 30, 40, 50, 2000], clock.monotonic())
    assert len(sup.restarts_mono) == 5
    run(sup, clock)
    crash(sup, clock)
    assert sup.state is State.GAVE_UP


def crash_loop_saved(crashes: int) -> dict[str, object]:
    """A supervisor's saved state after ``crashes`` quick crashes (its backoff grown)."""
    sup, clock = make(RestartPolicy(jitter=0, budget_restarts=50))
    for _ in range(crashes):
        run(sup, clock)
        if not crash(sup, clock):
            clock.advance(sup.seconds_until_due(clock.monotonic()) or 0)
            sup.tick(clock.now(), clock.monotonic())
    assert sup.backoff_level >= crashes - 1
    return sup.to_dict()


@pytest.mark.parametrize(("last_crash_age_s", "expected_delay"), [
    (None, 0.0),  # no crash restart recorded in the window: the loop is long over
    (3000.0, 0.0),  # older than stable_after_s (600)
    (30.0, 16.0),  # a watcher restarted in the middle of a crash loop keeps backing off
])
def test_a_restored_backoff_is_kept_only_while_its_crash_loop_is_recent(
        last_crash_age_s: float | None, expected_delay: float) -> None:
    """A backoff level saved an hour ago, before the watcher was stopped, does not slow
    the first crash after it starts again (it took 13 s in ``make run``)."""
    saved = crash_loop_saved(5)
    sup, clock = make(RestartPolicy(jitter=0, budget_restarts=50))
    sup.restore(saved)
    ages = [] if last_crash_age_s is None else [last_crash_age_s]
    sup.seed_restarts(ages, clock.monotonic())
    run(sup, clock)
    actions = crash(sup, clock)
    delay = 0.0 if actions else sup.seconds_until_due(clock.monotonic())
    assert delay == expected_delay


ALLOWED = [(src, dst) for src, dests in TRANSITIONS.items() for dst in sorted(dests)]
REFUSED = [(src, dst) for src in State for dst in State
           if dst is not src and dst not in TRANSITIONS[src]]


@pytest.mark.parametrize(("source", "dest"), ALLOWED, ids=str)
def test_every_allowed_edge_changes_state_and_emits_one_event(source: State, dest: State) -> None:
    """Each edge of the table moves the state and emits exactly one state_changed event."""
    sup, clock = make()
    sup.state = source
    sup._change_state(dest, clock.now(), "edge")
    events = sup.drain_events()
    assert sup.state is dest
    assert [(e.kind, e.data["from"], e.data["to"]) for e in events] == [
        ("state_changed", str(source), str(dest))]


@pytest.mark.parametrize(("source", "dest"), REFUSED, ids=str)
def test_every_edge_outside_the_table_is_refused(source: State, dest: State) -> None:
    """Anything the table does not list raises and leaves the state alone."""
    sup, clock = make()
    sup.state = source
    with pytest.raises(InvalidTransition):
        sup._change_state(dest, clock.now(), "edge")
    assert sup.state is source and sup.drain_events() == []


def test_supervisors_without_their_own_rng_share_one_jitter_source() -> None:
    """One generator for a watcher's every target (2.5 KB of state each otherwise), and
    their delays still differ: they are drawn one after another from it."""
    policy = RestartPolicy(jitter=0.2)
    sups = [Supervisor(f"t{i}", policy) for i in range(5)]
    assert all(s.rng is sups[0].rng for s in sups)
    delays = {round(s.next_delay(stable=False), 6) for s in sups}
    assert len(delays) > 1
    assert all(0.8 <= d <= 1.2 for d in delays)
