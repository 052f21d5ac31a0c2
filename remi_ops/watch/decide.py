"""Decide: a health report (and Remi's code) in, the supervisor's actions out.

The supervisor is the state machine and owns the policy; this module only says which of
its facts a report amounts to. No I/O: time is passed in.
"""

from __future__ import annotations

from datetime import datetime

from remi_ops.checks.codewatch import CodeState
from remi_ops.domain import Check, EventKind, HealthReport, Severity, Status, Trigger
from remi_ops.supervision.supervisor import Action, ActionKind, State, Supervisor

#: states in which a check's findings are news for the policy
WATCHED_STATES = frozenset({State.RUNNING, State.UNHEALTHY, State.STARTING})
#: findings a restart fixes: the process is alive but not working (the incident)
RESTART_FIXES = frozenset({Check.EVENT_LOOP, Check.PROCESS})


def decide(supervisor: Supervisor, report: HealthReport, now: datetime,
           mono: float) -> list[Action]:
    """Healthy, degraded (watch it) or hung (restart it, evidence first)."""
    if supervisor.state not in WATCHED_STATES:
        return []
    if any(f.check is Check.CONFIG for f in report.findings):
        return []  # restarting cannot fix a bad token; the alert escalates to a human
    hang = [f for f in report.findings
            if f.check in RESTART_FIXES and f.status is Status.DOWN]
    if hang:
        return supervisor.unhealthy(now, hang[0].summary, restart=True, mono=mono)
    if report.status is Status.DEGRADED:
        return supervisor.unhealthy(now, "; ".join(report.reasons), restart=False, mono=mono)
    supervisor.healthy(now)
    return []


def decide_on_code(supervisor: Supervisor, previous: CodeState | None, current: CodeState,
                   now: datetime, mono: float, *, restarting: bool) -> list[Action]:
    """A fix landed (HEAD moved or watched files changed): restart, then the scan test.

    When a restart is already under way it runs the new code; no second one is asked for.
    """
    if previous is None or not previous.differs(current):
        return []
    what = (f"commit {previous.short or '?'} → {current.short}"
            if previous.commit != current.commit else "watched files changed")
    supervisor.note(now, EventKind.CODE_CHANGED, Severity.INFO, f"code changed ({what})",
                    {"commit": current.commit})
    if restarting or supervisor.state in (State.STOPPED, State.MAINTENANCE):
        return []
    return supervisor.operator_restart(now, mono, "watchdog", f"code changed ({what})",
                                       Trigger.POST_FIX)


def restarts_in(actions: list[Action]) -> bool:
    return any(a.kind is ActionKind.RESTART for a in actions)
