"""The supervisor's vocabulary: its states, every allowed edge, the actions it asks for.

Kept apart from the state machine (``supervision.supervisor``, which re-exports all of
it) so the table reads on one screen; ``tests/remi_ops/supervision/test_supervisor.py``
walks every edge and ``test_supervisor_verbs.py`` beside it every (state, runbook verb) pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from remi_ops.domain import Trigger


class State(StrEnum):
    UNKNOWN = "unknown"  # the watcher has not looked yet
    STARTING = "starting"  # spawned, not yet up for start_seconds
    RUNNING = "running"
    UNHEALTHY = "unhealthy"  # alive but not working (hang, errors, thresholds)
    RESTARTING = "restarting"  # a stop+start is in progress
    BACKOFF = "backoff"  # dead, waiting for the next attempt
    GAVE_UP = "gave_up"  # budget spent or do-not-restart exit: escalated, slow retries
    STOPPED = "stopped"  # an operator stopped it; nothing restarts it
    MAINTENANCE = "maintenance"  # hands off until a set time


S = State
#: Every allowed edge. ``_change_state`` refuses anything else, so a bug shows up as an error.
TRANSITIONS: dict[State, frozenset[State]] = {
    S.UNKNOWN: frozenset({S.STARTING, S.RUNNING, S.RESTARTING, S.BACKOFF, S.STOPPED,
                          S.MAINTENANCE, S.GAVE_UP}),
    S.STARTING: frozenset({S.RUNNING, S.BACKOFF, S.GAVE_UP, S.RESTARTING, S.STOPPED,
                           S.MAINTENANCE, S.UNHEALTHY}),
    S.RUNNING: frozenset({S.UNHEALTHY, S.RESTARTING, S.BACKOFF, S.GAVE_UP, S.STOPPED,
                          S.MAINTENANCE}),
    S.UNHEALTHY: frozenset({S.RUNNING, S.RESTARTING, S.BACKOFF, S.GAVE_UP, S.STOPPED,
                            S.MAINTENANCE}),
    S.RESTARTING: frozenset({S.STARTING, S.BACKOFF, S.GAVE_UP, S.STOPPED, S.MAINTENANCE}),
    S.BACKOFF: frozenset({S.RESTARTING, S.RUNNING, S.GAVE_UP, S.STOPPED, S.MAINTENANCE}),
    S.GAVE_UP: frozenset({S.RESTARTING, S.RUNNING, S.STOPPED, S.MAINTENANCE}),
    # an operator's start (or restart) undoes a stop, and may cut maintenance short
    S.STOPPED: frozenset({S.RESTARTING, S.STARTING, S.RUNNING, S.MAINTENANCE}),
    S.MAINTENANCE: frozenset({S.RESTARTING, S.RUNNING, S.BACKOFF, S.STARTING, S.STOPPED}),
}
#: States in which the target is expected to be alive.
ALIVE_STATES = frozenset({S.STARTING, S.RUNNING, S.UNHEALTHY})


class ActionKind(StrEnum):
    START = "start"
    STOP = "stop"
    RESTART = "restart"  # stop whatever is there, then start
    CAPTURE_EVIDENCE = "capture_evidence"


@dataclass(frozen=True, slots=True)
class Action:
    """Something the watchdog must do in the world."""

    kind: ActionKind
    reason: str
    trigger: Trigger = Trigger.POLICY
    requested_by: str = "watchdog"


class InvalidTransition(RuntimeError):
    def __init__(self, source: State, dest: State) -> None:
        super().__init__(f"no transition {source} -> {dest}")
        self.source, self.dest = source, dest
