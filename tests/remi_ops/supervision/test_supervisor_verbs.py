"""Every runbook verb in every state (fake clock, no processes): what a person means, or
nothing — never ``InvalidTransition``; and people's restarts never spend the crash budget."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

import pytest

from remi_ops.clock import FakeClock
from remi_ops.config import RestartPolicy
from remi_ops.domain import EventKind, ExitInfo, ProcessIdentity, Trigger
from remi_ops.supervision.supervisor import Action, ActionKind, State, Supervisor

IDENT = ProcessIdentity(pid=4242, create_time=1.0, cmdline=("python", "main.py"), cwd="/r")
NEW = ProcessIdentity(pid=4343, create_time=2.0, cmdline=("python", "main.py"), cwd="/r")
WHO = "ana"


def make() -> tuple[Supervisor, FakeClock]:
    return Supervisor("remi", RestartPolicy(jitter=0.0), rng=random.Random(7)), FakeClock()


def running(sup: Supervisor, clock: FakeClock) -> None:
    sup.started(IDENT, clock.now(), clock.monotonic())
    clock.advance(sup.policy.start_seconds)
    sup.tick(clock.now(), clock.monotonic())


def crash(sup: Supervisor, clock: FakeClock) -> list[Action]:
    pid = sup.process.pid if sup.process else IDENT.pid
    return sup.exited(ExitInfo(pid, 1, None, clock.now()), clock.now(), clock.monotonic())


# ---------------------------------------------------------------------------- the states

def _unknown(sup: Supervisor, clock: FakeClock) -> None:
    pass


def _starting(sup: Supervisor, clock: FakeClock) -> None:
    sup.started(IDENT, clock.now(), clock.monotonic())


def _unhealthy(sup: Supervisor, clock: FakeClock) -> None:
    running(sup, clock)
    sup.unhealthy(clock.now(), "rss high", restart=False, mono=clock.monotonic())


def _restarting(sup: Supervisor, clock: FakeClock) -> None:
    """A restart whose act never finished: no process."""
    sup.not_running(clock.now(), clock.monotonic())


def _backoff(sup: Supervisor, clock: FakeClock) -> None:
    running(sup, clock)
    crash(sup, clock)  # the first crash: restarted at once
    sup.started(IDENT, clock.now(), clock.monotonic())
    crash(sup, clock)  # a quick second one: backoff


def _gave_up(sup: Supervisor, clock: FakeClock) -> None:
    running(sup, clock)
    sup.process = None
    sup._give_up(clock.now(), clock.monotonic(), "budget spent")


def _stopped(sup: Supervisor, clock: FakeClock) -> None:
    running(sup, clock)
    sup.operator_stop(clock.now(), WHO, "deploy")
    sup.process = None  # the act stopped it


def _maintenance_up(sup: Supervisor, clock: FakeClock) -> None:
    running(sup, clock)
    sup.enter_maintenance(clock.now(), clock.now() + timedelta(hours=1), WHO, "upgrade")


def _maintenance_down(sup: Supervisor, clock: FakeClock) -> None:
    _maintenance_up(sup, clock)
    crash(sup, clock)


SETUPS: dict[str, tuple[Callable[[Supervisor, FakeClock], None], State, bool]] = {
    "unknown": (_unknown, State.UNKNOWN, False),
    "starting": (_starting, State.STARTING, True),
    "running": (running, State.RUNNING, True),
    "unhealthy": (_unhealthy, State.UNHEALTHY, True),
    "restarting": (_restarting, State.RESTARTING, False),
    "backoff": (_backoff, State.BACKOFF, False),
    "gave_up": (_gave_up, State.GAVE_UP, False),
    "stopped": (_stopped, State.STOPPED, False),
    "maintenance_up": (_maintenance_up, State.MAINTENANCE, True),
    "maintenance_down": (_maintenance_down, State.MAINTENANCE, False),
}


def in_state(name: str) -> tuple[Supervisor, FakeClock]:
    setup, expected, alive = SETUPS[name]
    sup, clock = make()
    setup(sup, clock)
    assert sup.state is expected and (sup.process is not None) is alive
    sup.drain_events()
    return sup, clock


def test_the_setups_cover_every_state() -> None:
    assert {state for _, state, _ in SETUPS.values()} == set(State)


# ---------------------------------------------------------------------------- the verbs

def _restart(sup: Supervisor, clock: FakeClock) -> list[Action]:
    return sup.operator_restart(clock.now(), clock.monotonic(), WHO, "asked")


def _stop(sup: Supervisor, clock: FakeClock) -> list[Action]:
    return sup.operator_stop(clock.now(), WHO, "asked")


def _start(sup: Supervisor, clock: FakeClock) -> list[Action]:
    return sup.operator_start(clock.now(), clock.monotonic(), WHO)


def _enter(sup: Supervisor, clock: FakeClock) -> list[Action]:
    sup.enter_maintenance(clock.now(), clock.now() + timedelta(minutes=30), WHO, "asked")
    return []


def _end(sup: Supervisor, clock: FakeClock) -> list[Action]:
    return sup.end_maintenance(clock.now(), clock.monotonic(), WHO)


VERBS = {"restart": _restart, "stop": _stop, "start": _start, "maintenance": _enter,
         "end_maintenance": _end}
ALIVE = {"starting", "running", "unhealthy"}


def expected(state: str, verb: str) -> tuple[list[ActionKind], State | None]:
    """What a person means: the actions asked for and the state after (None: unchanged)."""
    if verb == "restart":
        return [ActionKind.RESTART], State.RESTARTING
    if verb == "stop":
        return [ActionKind.STOP], State.STOPPED
    if verb == "maintenance":
        return [], State.MAINTENANCE
    if verb == "start":
        if state in ALIVE:
            return [], None  # already running: nothing to do
        if state == "maintenance_up":
            return [], State.RUNNING  # it runs: start means supervise it again
        return [ActionKind.RESTART], State.RESTARTING
    if state == "maintenance_up":
        return [], State.RUNNING
    if state == "maintenance_down":
        return [ActionKind.RESTART], State.RESTARTING
    return [], None  # not in maintenance: nothing to end


PAIRS = [(s, v) for s in SETUPS for v in VERBS]


@pytest.mark.parametrize(("state", "verb"), PAIRS, ids=[f"{s}-{v}" for s, v in PAIRS])
def test_every_verb_in_every_state_does_what_a_person_means(state: str, verb: str) -> None:
    """No exception, the expected actions and state, no crash budget spent, and the act
    that follows (a start or a stop) is a valid transition too."""
    sup, clock = in_state(state)
    before, budget = sup.state, len(sup.restarts_mono)
    actions = VERBS[verb](sup, clock)
    kinds, after = expected(state, verb)

    assert [a.kind for a in actions] == kinds
    assert sup.state is (before if after is None else after)
    assert len(sup.restarts_mono) == budget  # a person's verb never spends the crash budget
    if ActionKind.RESTART in kinds:
        assert sup.maintenance_until is None
        sup.started(NEW, clock.now(), clock.monotonic())
        assert sup.state is State.STARTING and sup.process == NEW
    if ActionKind.STOP in kinds:
        sup.process = None  # the act stopped it; its exit is expected, nothing restarts it
        clock.advance(3600)
        assert sup.tick(clock.now(), clock.monotonic()) == []
        assert sup.state is State.STOPPED


def test_stop_then_a_watcher_restart_then_start_starts_it() -> None:
    """The persisted stop holds across a new watcher, is announced once, and start undoes it."""
    sup, clock = in_state("stopped")
    fresh, _ = make()
    fresh.restore(sup.to_dict())
    assert fresh.not_running(clock.now(), clock.monotonic()) == []
    fresh.announce_hold(clock.now())
    [held] = fresh.drain_events()
    assert held.kind is EventKind.HOLD_KEPT and "stays stopped" in held.summary
    assert [a.kind for a in _start(fresh, clock)] == [ActionKind.RESTART]


def test_a_new_watcher_in_maintenance_watches_a_running_remi_without_ending_it() -> None:
    """Adopting during maintenance keeps maintenance (and its end) in force."""
    sup, clock = in_state("maintenance_up")
    fresh, _ = make()
    fresh.restore(sup.to_dict())
    fresh.adopted(IDENT, clock.now(), clock.monotonic())
    assert fresh.state is State.MAINTENANCE and fresh.process == IDENT
    assert fresh.maintenance_until is not None


def test_maintenance_ending_starts_a_dead_remi_as_maintenance_end_not_a_crash() -> None:
    """The start after maintenance names why, and spends no crash budget."""
    sup, clock = in_state("maintenance_down")
    clock.advance(3600)
    [action] = sup.tick(clock.now(), clock.monotonic())
    assert action.trigger is Trigger.MAINTENANCE_END and "maintenance ended" in action.reason
    assert not sup.restarts_mono


def test_a_restart_that_never_finished_is_treated_as_down_and_retried() -> None:
    """``restarting`` with no process (its act failed half way) is due now and recovers."""
    sup, clock = in_state("restarting")
    assert sup.seconds_until_due(clock.monotonic()) == 0.0
    sup.tick(clock.now(), clock.monotonic())
    assert sup.state is State.BACKOFF
    clock.advance(sup.seconds_until_due(clock.monotonic()) or 0)
    assert [a.kind for a in sup.tick(clock.now(), clock.monotonic())] == [ActionKind.RESTART]


def test_people_restarting_five_times_never_gives_up_and_a_crash_still_restarts_at_once() -> None:
    """Five restarts asked for in ten minutes: no gave_up; the next real crash is immediate."""
    sup, clock = make()
    running(sup, clock)
    for _ in range(5):
        _restart(sup, clock)
        sup.started(IDENT, clock.now(), clock.monotonic())
        clock.advance(120)
        sup.tick(clock.now(), clock.monotonic())
    assert sup.state is State.RUNNING and not sup.restarts_mono
    actions = crash(sup, clock)
    assert [a.kind for a in actions] == [ActionKind.RESTART]
    assert actions[0].trigger is Trigger.CRASH and "exited with code 1" in actions[0].reason


def test_a_post_fix_restart_spends_no_budget_either() -> None:
    sup, clock = make()
    running(sup, clock)
    sup.operator_restart(clock.now(), clock.monotonic(), "watchdog", "code changed",
                         Trigger.POST_FIX)
    assert not sup.restarts_mono
