"""The supervisor: the one place that changes state (``remi_ops.supervision.states`` holds
the states and the transition table; they are re-exported here).

Pure: it never touches a process. Inputs are facts (started, exited, unhealthy, an operator
asked, time passed) with the time passed in; outputs are ``Action``s for the watchdog to
carry out and ``Event``s for history and alerts. The restart policy lives here too:
immediate after a crash that followed stable running, exponential backoff with jitter for
crash loops, a restart budget that leads to ``GAVE_UP`` (escalate, then retry slowly), exit
codes that must not be restarted, and maintenance that always ends. The budget counts
crashes (deaths, hangs), not people: a restart a person, a deploy or the end of maintenance
asked for never spends it (``remi_ops.supervision.policy`` holds the arithmetic and the words).

Every runbook verb is valid in every state: it does what a person means or nothing
(``tests/remi_ops/supervision/test_supervisor_verbs.py`` walks every (state, verb) pair).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from remi_ops.config import RestartPolicy
from remi_ops.domain import Event, EventKind, ExitInfo, ProcessIdentity, Severity, Trigger
from remi_ops.supervision.policy import (
    backoff_base,
    describe_exit,
    held_text,
    jittered,
    level_cap,
    spends_budget,
)
from remi_ops.supervision.states import (
    ALIVE_STATES,
    TRANSITIONS,
    Action,
    ActionKind,
    InvalidTransition,
    State,
)

__all__ = ["ALIVE_STATES", "TRANSITIONS", "Action", "ActionKind", "InvalidTransition", "State",
           "Supervisor"]
S = State
#: every supervisor's restart jitter, unless one is given its own (a test's seeded one): one
#: generator holds 2.5 KB of state, which a watcher of 200 targets need not hold 200 times
SHARED_JITTER = random.Random()  # noqa: S311 - jitter, not cryptography


@dataclass
class Supervisor:
    """One target's supervisor. Feed it facts; carry out the actions it returns."""

    target: str
    policy: RestartPolicy
    rng: random.Random = field(default_factory=lambda: SHARED_JITTER)
    state: State = State.UNKNOWN
    since: datetime | None = None
    reason: str = ""
    process: ProcessIdentity | None = None
    started_mono: float | None = None
    backoff_level: int = 0
    next_attempt_mono: float | None = None
    next_attempt_at: datetime | None = None  # the same, for people (``remi-ops status``)
    maintenance_until: datetime | None = None
    #: crash restarts (deaths, hangs) within the budget window; people's restarts are not here
    restarts_mono: deque[float] = field(default_factory=deque)
    #: what the next scheduled attempt is for ("killed by SIGKILL; …"), for its restart reason
    retry_reason: str = ""
    #: the workdir a start found missing: restarts are held until it exists again
    workdir_missing: str = ""
    _events: list[Event] = field(default_factory=list, init=False, repr=False)

    # ------------------------------------------------------------------ state changes

    def _change_state(self, dest: State, now: datetime, reason: str, **data: Any) -> None:
        """The one place state changes; it emits the ``state_changed`` event."""
        if dest is self.state:
            self.reason = reason
            return
        if dest not in TRANSITIONS[self.state]:
            raise InvalidTransition(self.state, dest)
        source, self.state, self.since, self.reason = self.state, dest, now, reason
        severity = Severity.WARNING if dest in (S.UNHEALTHY, S.BACKOFF) else Severity.INFO
        if dest is S.GAVE_UP:
            severity = Severity.PAGE
        self.note(now, EventKind.STATE_CHANGED, severity, f"{source} → {dest}: {reason}",
                   {"from": str(source), "to": str(dest), "reason": reason, **data})

    def note(self, now: datetime, kind: EventKind, severity: Severity, summary: str,
             data: Mapping[str, Any]) -> None:
        """Add an event to the target's one ordered stream (the watch notes its own acts
        here too, so a restart reads after the state change that caused it)."""
        self._events.append(Event(self.target, kind, now, severity, summary, dict(data)))

    def drain_events(self) -> list[Event]:
        """Hand over what happened since the last call."""
        events, self._events = self._events, []
        return events

    # ------------------------------------------------------------------ facts

    def adopted(self, ident: ProcessIdentity, now: datetime, mono: float) -> list[Action]:
        """A matching process was already running: watch it instead of starting another."""
        self.process, self.started_mono = ident, mono
        if self.state is S.MAINTENANCE:  # hands off still: watch it, do not supervise it
            return []
        self._change_state(S.RUNNING, now, f"adopted running process {ident.pid}",
                           pid=ident.pid)
        return []

    def not_running(self, now: datetime, mono: float) -> list[Action]:
        """First look found nothing running: start it (unless stopped or in maintenance)."""
        if self.state in (S.STOPPED, S.MAINTENANCE) or not self.policy.enabled:
            return []
        if self.state in (S.BACKOFF, S.GAVE_UP, S.RESTARTING, S.STARTING):
            return []
        return self._begin_restart(now, mono, "not running at first look", Trigger.START)

    def started(self, ident: ProcessIdentity, now: datetime, mono: float) -> list[Action]:
        """A start (or the start half of a restart) succeeded."""
        self.process, self.started_mono = ident, mono
        self.workdir_missing = ""
        if S.STARTING not in TRANSITIONS[self.state]:
            self._change_state(S.RESTARTING, now, "starting")
        self._change_state(S.STARTING, now, f"started pid {ident.pid}", pid=ident.pid)
        return []

    def start_failed(self, detail: str, now: datetime, mono: float) -> list[Action]:
        """The command could not be started at all: back off like a crash loop."""
        self.process = None
        return self._schedule_retry(now, mono, f"start failed: {detail}", stable=False)

    def workdir_gone(self, workdir: str, why: str, now: datetime, mono: float) -> bool:
        """The start failed because the workdir is not there: retrying cannot help, a person
        must act. Restarts are held (no attempts, no backoff growth) until the watch sees it
        again (``workdir_back``); the escalation is said once. True when it is news."""
        self.process = None
        self.next_attempt_mono, self.retry_reason = None, ""
        news = self.workdir_missing != workdir
        self.workdir_missing = workdir
        self._change_state(S.BACKOFF, now, held_text(why), workdir=workdir)
        if news:
            self.note(now, EventKind.ESCALATION, Severity.PAGE,
                      f"{self.target} needs a human: {held_text(why)}; it starts by itself "
                      "then", {"reason": why, "workdir": workdir})
        return news

    def workdir_back(self, now: datetime, mono: float) -> list[Action]:
        """The missing workdir exists again: the held start is carried out now."""
        if not self.workdir_missing or self.state is not S.BACKOFF:
            return []
        workdir, self.workdir_missing = self.workdir_missing, ""
        return self._begin_restart(now, mono, f"workdir {workdir} exists again",
                                   Trigger.START)

    def exited(self, info: ExitInfo, now: datetime, mono: float) -> list[Action]:
        """The supervised process died (noticed as an event, not a poll)."""
        if self.process is not None and info.pid != self.process.pid:
            return []  # an old incarnation; already handled
        uptime = mono - self.started_mono if self.started_mono is not None else 0.0
        self.process, self.started_mono = None, None
        how = describe_exit(info)
        if self.state in (S.STOPPED, S.MAINTENANCE, S.RESTARTING):
            return []  # we (or an operator) stopped it on purpose
        if info.returncode is not None and info.returncode in self.policy.no_restart_exit_codes:
            self._give_up(now, mono, f"{how}: exit code {info.returncode} is listed as "
                          "do-not-restart (restarting cannot fix it)", exit_code=info.returncode)
            return []
        if not self.policy.enabled:
            self._change_state(S.BACKOFF, now, f"{how}; restarts are disabled")
            self.next_attempt_mono = None
            return []
        stable = uptime >= self.policy.stable_after_s
        if uptime < self.policy.start_seconds and not stable:
            how += f" {uptime:.1f}s after start"
        return self._schedule_retry(now, mono, how, stable=stable)

    def unhealthy(self, now: datetime, summary: str, *, restart: bool,
                  mono: float) -> list[Action]:
        """A health check failed. ``restart`` when the finding is one a restart fixes (a hang)."""
        if self.state not in ALIVE_STATES:
            return []
        self._change_state(S.UNHEALTHY, now, summary)
        if not restart or not self.policy.enabled:
            return []
        if self._budget_spent(mono):
            self._give_up(now, mono, f"{summary}; restart budget spent")
            return []
        return self._begin_restart(now, mono, summary, Trigger.HANG, evidence=True)

    def healthy(self, now: datetime) -> None:
        if self.state is S.UNHEALTHY:
            self._change_state(S.RUNNING, now, "healthy again")

    # ------------------------------------------------------------------ operators

    def operator_restart(self, now: datetime, mono: float, who: str, reason: str,
                         trigger: Trigger = Trigger.OPERATOR) -> list[Action]:
        """A person (or the post-fix flow) asked for a restart. Not bound by the budget."""
        if self.state is S.MAINTENANCE:
            self.maintenance_until = None
        return self._begin_restart(now, mono, reason, trigger, who=who)

    def operator_stop(self, now: datetime, who: str, reason: str) -> list[Action]:
        self.next_attempt_mono = None
        self._change_state(S.STOPPED, now, f"stopped by {who}: {reason}")
        return [Action(ActionKind.STOP, reason, Trigger.OPERATOR, who)]

    def operator_start(self, now: datetime, mono: float, who: str) -> list[Action]:
        if self.state in ALIVE_STATES:
            return []
        if self.state is S.RESTARTING and self.process is not None:
            return []  # a restart is under way (its start half runs now)
        if self.state is S.MAINTENANCE and self.process is not None:
            self.maintenance_until = None  # it runs: "start" means supervise it again
            self._change_state(S.RUNNING, now, f"maintenance ended by {who}")
            return []
        self.maintenance_until = None
        self.backoff_level = 0
        self.next_attempt_mono = None
        return self._begin_restart(now, mono, "start requested", Trigger.OPERATOR, who=who)

    def enter_maintenance(self, now: datetime, until: datetime, who: str,
                          reason: str) -> None:
        """Hands off until ``until``; maintenance always has an end."""
        if until <= now:
            raise ValueError("maintenance must end in the future")
        self.maintenance_until = until
        self.next_attempt_mono = None
        self._change_state(S.MAINTENANCE, now, f"maintenance by {who} until "
                           f"{until.isoformat(timespec='minutes')}: {reason}",
                           until=until.isoformat())

    def end_maintenance(self, now: datetime, mono: float, who: str) -> list[Action]:
        if self.state is not S.MAINTENANCE:
            return []
        self.maintenance_until = None
        if self.process is not None:
            self._change_state(S.RUNNING, now, f"maintenance ended by {who}")
            return []
        return self._begin_restart(now, mono, f"maintenance ended by {who}; not running",
                                   Trigger.MAINTENANCE_END)

    # ------------------------------------------------------------------ time

    def tick(self, now: datetime, mono: float) -> list[Action]:
        """Idempotent: advance whatever is due at ``now``."""
        if self.state is S.MAINTENANCE and self.maintenance_until and now >= self.maintenance_until:
            return self.end_maintenance(now, mono, "schedule")
        if self.state is S.STARTING and self.started_mono is not None and (
                mono - self.started_mono >= self.policy.start_seconds):
            self._change_state(S.RUNNING, now, "up")
        if self.state in (S.RUNNING, S.UNHEALTHY) and self._stable(mono) and self.backoff_level:
            self.backoff_level = 0  # stable long enough: forget the crash loop
        if self.state in (S.RESTARTING, S.STARTING) and self.process is None:
            # a restart that never finished (its act failed half way): Remi is down
            return self._schedule_retry(now, mono, "the last restart did not finish; "
                                        "not running", stable=False)
        due = self.next_attempt_mono is not None and mono >= self.next_attempt_mono
        if self.state in (S.BACKOFF, S.GAVE_UP) and due:
            gave_up = self.state is S.GAVE_UP
            trigger = Trigger.POLICY_RETRY if gave_up else Trigger.CRASH
            reason = (f"slow retry after giving up ({self.reason})" if gave_up
                      else self.retry_reason or self.reason)
            self.next_attempt_mono, self.retry_reason = None, ""
            return self._begin_restart(now, mono, reason, trigger)
        return []

    def seconds_until_due(self, mono: float) -> float | None:
        """How long until ``tick`` has something to do (None: nothing scheduled)."""
        if self.state in (S.RESTARTING, S.STARTING) and self.process is None:
            return 0.0  # a restart that never finished: ``tick`` treats it as down now
        due = self.next_attempt_mono
        if self.state is S.STARTING and self.started_mono is not None:
            up_at = self.started_mono + self.policy.start_seconds
            due = up_at if due is None else min(due, up_at)
        if due is None:
            return None
        return max(0.0, due - mono)

    # ------------------------------------------------------------------ policy

    def _stable(self, mono: float) -> bool:
        return self.started_mono is not None and (
            mono - self.started_mono >= self.policy.stable_after_s)

    def _prune(self, mono: float) -> None:
        while self.restarts_mono and mono - self.restarts_mono[0] > self.policy.budget_window_s:
            self.restarts_mono.popleft()

    def _budget_spent(self, mono: float) -> bool:
        self._prune(mono)
        return len(self.restarts_mono) >= self.policy.budget_restarts

    def next_delay(self, stable: bool) -> float:
        """The wait before the next attempt: immediate after stable running, else backoff."""
        if stable:
            self.backoff_level = 0
            return self.policy.immediate_delay_s
        base = backoff_base(self.policy, self.backoff_level)
        # past the cap the delay no longer grows; the level stays small (it is persisted)
        self.backoff_level = min(self.backoff_level + 1, level_cap(self.policy) + 1)
        return jittered(self.policy, base, self.rng)

    def _schedule_retry(self, now: datetime, mono: float, how: str,
                        *, stable: bool) -> list[Action]:
        if self._budget_spent(mono):
            self._give_up(now, mono, f"{how}; {len(self.restarts_mono)} restarts in "
                          f"{self.policy.budget_window_s / 60:.0f} min")
            return []
        if self.backoff_level == 0 and not stable and self.state in (S.RUNNING, S.UNHEALTHY):
            stable = not self.restarts_mono  # first crash ever seen: be quick
        delay = self.next_delay(stable)
        self.next_attempt_mono, self.retry_reason = mono + delay, how
        self.next_attempt_at = now + timedelta(seconds=delay)
        self._change_state(S.BACKOFF, now, f"{how}; restarting in {delay:.1f}s", delay_s=delay)
        return self.tick(now, mono)

    def _give_up(self, now: datetime, mono: float, why: str, **data: Any) -> None:
        self.next_attempt_mono = mono + self.policy.gave_up_retry_s
        self.next_attempt_at = now + timedelta(seconds=self.policy.gave_up_retry_s)
        self._change_state(S.GAVE_UP, now, why, **data)
        retry_min = self.policy.gave_up_retry_s / 60
        self.note(now, EventKind.ESCALATION, Severity.PAGE,
                   f"{self.target} needs a human: {why}. Retrying every {retry_min:.0f} min.",
                   {"reason": why, **data})

    def _begin_restart(self, now: datetime, mono: float, reason: str, trigger: Trigger,
                       *, who: str = "watchdog", evidence: bool = False) -> list[Action]:
        if spends_budget(trigger):  # a first start, a person, a deploy: no budget spent
            self.restarts_mono.append(mono)
        self.next_attempt_mono = None  # the attempt is now
        # history names the person; the action's reason stays theirs (reports add "by who")
        said = reason if who == "watchdog" else f"{reason} (by {who})"
        self._change_state(S.RESTARTING, now, said, trigger=trigger)
        actions = [Action(ActionKind.CAPTURE_EVIDENCE, reason, trigger, who)] if evidence else []
        return [*actions, Action(ActionKind.RESTART, reason, trigger, who)]

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        """What survives a watcher restart (wall times; monotonic values are per-process)."""
        return {"state": str(self.state), "reason": self.reason,
                "since": self.since.isoformat() if self.since else None,
                "backoff_level": self.backoff_level,
                "maintenance_until": (self.maintenance_until.isoformat()
                                      if self.maintenance_until else None),
                **self._next_attempt()}

    def _next_attempt(self) -> dict[str, Any]:
        """When a backoff (or a slow retry after giving up) starts it next, and which crash
        restart within the budget's window that will be (``remi-ops status`` shows it)."""
        waiting = self.state in (S.BACKOFF, S.GAVE_UP) and self.next_attempt_mono is not None
        if not waiting or self.next_attempt_at is None:
            return {}
        return {"next_attempt_at": self.next_attempt_at.isoformat(),
                "attempt": len(self.restarts_mono) + 1,
                "budget_restarts": self.policy.budget_restarts}

    def restore(self, data: dict[str, Any]) -> None:
        """Bring back an operator stop, maintenance and the backoff level after a restart."""
        state = State(data.get("state", "unknown"))
        self.backoff_level = int(data.get("backoff_level", 0))
        if state in (S.STOPPED, S.MAINTENANCE):
            self.state, self.reason = state, str(data.get("reason", ""))
            until = data.get("maintenance_until")
            self.maintenance_until = datetime.fromisoformat(until) if until else None

    def announce_hold(self, now: datetime) -> None:
        """A watcher starting with a stop or maintenance in force says so, once."""
        if self.state not in (S.STOPPED, S.MAINTENANCE):
            return
        if self.state is S.STOPPED:
            summary = (f"{self.target} stays stopped ({self.reason}); nothing restarts it "
                       "until someone starts it")
        else:
            summary = (f"{self.target} stays in maintenance ({self.reason}); supervision "
                       "resumes when it ends")
        self.note(now, EventKind.HOLD_KEPT, Severity.INFO, summary,
                  {"state": str(self.state), "reason": self.reason})

    def seed_restarts(self, ages_s: list[float], mono: float) -> None:
        """Count recent crash restarts (from the store) against the budget after a watcher
        restart; the caller passes only those whose trigger ``spends_budget``. With none in
        the last ``stable_after_s``, a restored backoff level is a crash loop long over (the
        watcher was down meanwhile): it starts over instead of slowing the next restart."""
        for age in sorted(ages_s, reverse=True):
            self.restarts_mono.append(mono - age)
        self._prune(mono)
        if all(age >= self.policy.stable_after_s for age in ages_s):
            self.backoff_level = 0

