"""The imperative shell for one target: a check as visible steps, and the verbs.

    observe  (observe.Observer: process, logs, beacon, code — reads only)
    assess   (checks.health.HealthAssessor — pure)
    decide   (decide.decide → the supervisor's actions — pure)
    act      (act.ActionRunner — the process manager)
    record   (record.* — the store and .bot_health, once per check)
    notify   (conditions → the alert engine; the event stream → the alert engine)

Every method blocks (psutil, files, SQLite, signals), so async callers run them with
``asyncio.to_thread``; a per-target lock makes concurrent triggers (schedule, death,
operator, button) take turns.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from remi_ops import host
from remi_ops.alerts.model import Condition
from remi_ops.alerts.text import scan_summary
from remi_ops.checks.codewatch import CodeState
from remi_ops.checks.health import HealthAssessor, Observation, beacon_blocked_s
from remi_ops.checks.scantest import run_scan_test
from remi_ops.clock import Clock
from remi_ops.config import Settings, TargetSettings
from remi_ops.domain import (
    Check,
    CheckTrigger,
    ErrorGroup,
    Event,
    EventKind,
    ExitInfo,
    HealthReport,
    LogKind,
    ProcessIdentity,
    RestartReport,
    ScanResult,
    Severity,
    Trigger,
)
from remi_ops.logs.error_groups import ErrorAggregator
from remi_ops.logs.known_secrets import config_secrets, secret_values
from remi_ops.logs.redact import Redactor
from remi_ops.store.database import Store
from remi_ops.supervision.policy import spends_budget
from remi_ops.supervision.supervisor import Action, State, Supervisor
from remi_ops.watch import record
from remi_ops.watch.act import Acted, ActionRunner
from remi_ops.watch.conditions import conditions_of
from remi_ops.watch.decide import decide, decide_on_code, restarts_in
from remi_ops.watch.fallback import FallbackAlerts
from remi_ops.watch.intake import LogIntake, log_streams
from remi_ops.watch.observe import Observer
from remi_ops.watch.occurrences import Occurrences
from remi_ops.watch.wakes import wake_if_changed

log = logging.getLogger(__name__)
#: running totals of error groups read back for the notify step
GROUP_TOTALS_LIMIT = 200


class Notifier(Protocol):
    """Where a watch's conditions and events go (the alert engine, through its hub)."""

    def observe(self, now: datetime, target: str, conditions: list[Condition]) -> None: ...
    def event(self, event: Event) -> None: ...


class TargetWatch:
    """Everything the watcher knows and does for one target."""

    def __init__(self, settings: Settings, target: TargetSettings, *, store: Store,
                 clock: Clock, notifier: Notifier, manager: host.ProcessManager | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.settings, self.target, self.store, self.clock = settings, target, store, clock
        self.notifier = notifier
        self.manager = manager or host.make_manager(target, settings.state_dir)
        self.redact = Redactor(secret_values(target, environ if environ is not None
                                             else os.environ,
                                             config_secrets(settings.watchdog.heartbeat_url)))
        self.supervisor = Supervisor(target.name, target.restart)
        self.assessor = HealthAssessor(target.health, workdir=target.workdir, redact=self.redact)
        self.lock = threading.RLock()
        self.scan_lock = threading.Lock()
        self.occurrences = Occurrences(target.name, store, self.redact, clock)
        self.intake = LogIntake(target, {s: store.load_position(target.name, s)
                                         for s in log_streams(target)},
                                lambda: clock.now().timestamp(),
                                keep=self.occurrences.keep, follow=self._written_files)
        self.observer = Observer(target, self.manager, store, clock, self.redact, self.intake,
                                 self.occurrences)
        self.fallback = FallbackAlerts(target.name, target.alert_file, clock, target.workdir)
        self.hands = ActionRunner(target, self.supervisor, self.manager, clock, self.redact,
                                  fallback=self.fallback, on_new_process=self._fresh_start)
        self.last_report: HealthReport | None = None
        self.last_scan: ScanResult | None = None
        self.code: CodeState | None = None
        self.scan_due_mono: float | None = None
        self.recheck_due_mono: float | None = None  # a check soon after a restart
        self.on_change: Callable[[], None] = lambda: None  # wakes the exit waiter, due loop
        self.loops_heard: tuple[object, ...] = ()  # what the loops were last woken with

    @property
    def name(self) -> str:
        return self.target.name

    # ------------------------------------------------------------------ startup

    def startup(self) -> None:
        """Adopt a running Remi or start one; restore what survives a watcher restart."""
        self.intake.rotating = True  # the watcher rotates Remi's logs; a bystander never
        self.attach(start=True)

    def attach(self, *, start: bool = False) -> None:
        """Restore the supervisor and adopt a running Remi; start one only if ``start``.

        ``remi-ops stop/start/…`` without a running watcher attach without starting, carry
        out one runbook verb through the same supervisor, and leave its state persisted.
        """
        with self.lock:
            saved = self.store.get_state(record.state_key(self.name))
            if isinstance(saved, dict):
                self.supervisor.restore(saved)
            now, mono = self.clock.now(), self.clock.monotonic()
            if start:
                self.supervisor.announce_hold(now)
            since = now - timedelta(seconds=self.target.restart.budget_window_s)
            self.supervisor.seed_restarts(
                [(now - r.at).total_seconds() for r in self.store.restarts(self.name, since)
                 if spends_budget(r.trigger)], mono)
            self.last_scan = self.store.last_scan(self.name)
            running = self.observer.find()
            actions: list[Action] = []
            if running:
                self.supervisor.adopted(running[0], now, mono)
                self._report_duplicates(running)
            elif start:
                actions = self.supervisor.not_running(now, mono)
            acted = self._act(actions)
            self.code = self.observer.code()
            self._close(acted)

    def _report_duplicates(self, running: Sequence[ProcessIdentity]) -> None:
        if len(running) > 1:
            pids = [p.pid for p in running]
            self.supervisor.note(
                self.clock.now(), EventKind.DUPLICATE_FOUND, Severity.PAGE,
                f"{len(running)} copies of {self.name} are running (pids "
                f"{', '.join(map(str, pids))}); watching {pids[0]}, leaving the others "
                "for a human", {"pids": pids})

    # ------------------------------------------------------------------ the check

    def check(self, trigger: CheckTrigger = CheckTrigger.SCHEDULE) -> HealthReport:
        """One full check: observe, assess, decide, act, record, notify."""
        with self.lock:
            acted = self._act(self._due())  # what time made due comes first
            obs = self.observer.observe(self.supervisor, self.last_scan)
            report = self.assessor.assess(obs)
            actions = self._decide(report, obs)
            acted.extend(self._act(actions, report))
            self.last_report = report
            self._close(acted, obs, report)
            log.debug("check (%s) → %s", trigger, report.status, extra={"target": self.name})
            return report

    def look(self) -> HealthReport:
        """Observe and assess only: the check of a bystander (``remi-ops health`` with no
        watcher running). It starts, stops and records nothing, and leaves the log
        positions where the watcher will pick them up."""
        with self.lock:
            now, mono = self.clock.now(), self.clock.monotonic()
            seen = Supervisor(self.name, self.target.restart)  # a throwaway: no events kept
            saved = self.store.get_state(record.state_key(self.name))
            if isinstance(saved, dict):
                seen.restore(saved)
            running = self.observer.find()
            if running:
                seen.adopted(running[0], now, mono)
            self.occurrences.recording = False  # a bystander stores nothing
            obs = self.observer.observe(seen, self.store.last_scan(self.name))
            return self.assessor.assess(obs)

    def _decide(self, report: HealthReport, obs: Observation) -> list[Action]:
        now, mono = self.clock.now(), self.clock.monotonic()
        gone = self._died_unnoticed(obs)
        if gone is not None:  # a death, though a check saw it first: the crash path
            self.hands.last_exit = gone
            return self.supervisor.exited(gone, now, mono)
        actions = decide(self.supervisor, report, now, mono)
        if obs.code is not None:
            previous, self.code = self.code, obs.code
            actions += decide_on_code(self.supervisor, previous, obs.code, now, mono,
                                      restarting=restarts_in(actions))
        return actions

    def _died_unnoticed(self, obs: Observation) -> ExitInfo | None:
        """The process the supervisor runs is gone and the exit waiter has not said so yet
        (a check or a probe got there first): how it ended, from the manager at once, so
        it is restarted as the crash it was (backoff, budget, its exit code or reason),
        not as a hang of a process that no longer exists."""
        ident = self.supervisor.process
        if obs.process is not None or ident is None or self.supervisor.state not in (
                State.STARTING, State.RUNNING, State.UNHEALTHY):
            return None
        return self.manager.wait_exit(ident, 0.0)

    def probe(self) -> bool:
        """Cheap look between checks (beacon + new log lines); True if it checked.

        The lines read are grouped and stored at once (``remi-ops errors`` shows them); a
        new error group, or the start of an error burst, makes a check now, so its alert
        is raised after the group wait rather than at the next scheduled check.
        """
        with self.lock:
            fresh = self.intake.read()
            urgent = any(r.kind in (LogKind.HANG, LogKind.FATAL_CONFIG) for r in fresh)
            urgent = urgent or bool(self.occurrences.fresh) or self._burst_began()
            beacon = self.observer.beacon()
            h = self.target.health
            ident = self.supervisor.process
            if beacon is not None and ident is not None and beacon.pid in (None, ident.pid):
                urgent = urgent or beacon_blocked_s(beacon) >= h.hang_threshold_s or (
                    beacon.age_s > max(h.beacon_stale_s, h.hang_threshold_s))
                urgent = urgent or (beacon.blocked_for_s > 0 and self._loop_was_fine())
            if urgent:
                self.check(CheckTrigger.PROBE)
            return urgent

    def _burst_began(self) -> bool:
        """As many errors since the last check as make a burst, and the last check saw none."""
        report = self.last_report
        return self.occurrences.errors >= self.target.health.error_burst and (
            report is None or not any(f.check is Check.ERROR_BURST for f in report.findings))

    def _written_files(self) -> Mapping[str, Path]:
        """The files Remi's stdout and stderr really are now (they survive a rename)."""
        ident = self.supervisor.process
        return host.std_targets(ident.pid) if ident is not None else {}

    def _loop_was_fine(self) -> bool:
        """Report a newly blocked loop once (degraded) rather than on every probe."""
        report = self.last_report
        return report is None or not any(f.check is Check.EVENT_LOOP for f in report.findings)

    # ------------------------------------------------------------------ events and time

    def handle_exit(self, info: ExitInfo) -> None:
        """The process died: let the policy decide, then act (usually at once)."""
        with self.lock:
            if self.supervisor.process is None or info.pid != self.supervisor.process.pid:
                return
            try:
                self.intake.read()  # the crash traceback is in the log now
            except Exception as exc:  # the restart matters more than the log
                self.fallback.report("reading the log after an exit", exc,
                                     self.redact(str(exc)))
            self.hands.last_exit = info
            self._close_or_report(self._act(self.supervisor.exited(
                info, self.clock.now(), self.clock.monotonic())))
        self.check(CheckTrigger.EXIT)

    def tick(self) -> None:
        """Carry out whatever the policy has due (backoff retries, maintenance end)."""
        with self.lock:
            self._close_or_report(self._act(self._due()))

    def _due(self) -> list[Action]:
        return self.hands.workdir_back() or self.supervisor.tick(self.clock.now(),
                                                                 self.clock.monotonic())

    def seconds_until_due(self) -> float | None:
        return self.supervisor.seconds_until_due(self.clock.monotonic())

    def recheck_due(self) -> bool:
        """After a restart, look again soon so its alerts resolve without waiting a minute."""
        due = self.recheck_due_mono is not None and self.clock.monotonic() >= self.recheck_due_mono
        if due:
            self.recheck_due_mono = None
        return due

    def scan_due(self) -> bool:
        return self.scan_due_mono is not None and self.clock.monotonic() >= self.scan_due_mono

    # ------------------------------------------------------------------ operators

    def restart(self, who: str, reason: str,
                trigger: Trigger = Trigger.OPERATOR) -> RestartReport:
        with self.lock:
            now, mono = self.clock.now(), self.clock.monotonic()
            acted = self._act(self.supervisor.operator_restart(now, mono, who, reason, trigger))
            self._close_or_report(acted)
            return acted.restarts[-1]

    def stop(self, who: str, reason: str) -> None:
        with self.lock:
            self._close_or_report(self._act(self.supervisor.operator_stop(
                self.clock.now(), who, reason)))

    def start(self, who: str) -> None:
        with self.lock:
            self._close_or_report(self._act(self.supervisor.operator_start(
                self.clock.now(), self.clock.monotonic(), who)))

    def maintenance(self, until: datetime, who: str, reason: str) -> None:
        with self.lock:
            self.supervisor.enter_maintenance(self.clock.now(), until, who, reason)
            self._close(Acted())
        self.on_change()  # the due loop wakes at its end

    def end_maintenance(self, who: str) -> None:
        with self.lock:
            self._close_or_report(self._act(self.supervisor.end_maintenance(
                self.clock.now(), self.clock.monotonic(), who)))

    def scan_test(self, trigger: CheckTrigger | str = CheckTrigger.OPERATOR,
                  who: str = "watchdog") -> ScanResult:
        """Run the out-of-band /scan smoke test now and record it (not under the main lock)."""
        with self.scan_lock:
            self.scan_due_mono = None
            code = self.code or self.observer.code()
            result = run_scan_test(
                self.name, self.target.scan_test, cwd=self.target.workdir,
                env=host.child_environment(self.target, os.environ), run=self.manager.run_command,
                redact=self.redact,
                fingerprint=ErrorAggregator(self.name, self.redact).fingerprint_text,
                now=self.clock.now(), commit=code.short if code else "")
            self.last_scan = result
            self.store.record_scan(result)
            self.supervisor.note(self.clock.now(), EventKind.SCAN_TEST,
                                 Severity.INFO if result.ok else Severity.WARNING,
                                 scan_summary(result, str(trigger)),
                                 {"scan": result, "trigger": str(trigger),
                                  "requested_by": who})
            self._close(Acted())
            return result

    # ------------------------------------------------------------------ act, record, notify

    def _act(self, actions: Sequence[Action], report: HealthReport | None = None) -> Acted:
        acted = self.hands.run(actions, report or self.last_report)
        if any(restart.ok for restart in acted.restarts):
            self._follow_up_restart()
        wake_if_changed(self, acted=bool(actions))  # a death or a tick may have set a due time
        return acted

    def _close_or_report(self, acted: Acted) -> None:
        """Record after acting; a store that fails (read-only, damaged, full) is told
        through the store-free fallback, and what was done stays done."""
        try:
            self._close(acted)
        except Exception as exc:  # the act already happened; say so, go on
            self.fallback.report("recording", exc, self.redact(str(exc)))
        else:
            self.fallback.recovered("recording")

    def _follow_up_restart(self) -> None:
        """Look again soon after a restart, and run the scan test once it is up."""
        mono, policy = self.clock.monotonic(), self.target.restart
        self.recheck_due_mono = mono + policy.start_seconds + 1
        if self.target.scan_test.after_restart and self.target.scan_test.command:
            self.scan_due_mono = mono + max(policy.start_seconds, 2.0)

    def _fresh_start(self) -> None:
        """A new process: the old one's hang lines and threshold streaks say nothing of it."""
        self.intake.forget_hangs()
        self.intake.gateway = ""  # the old process's connection went with it
        self.assessor.reset_streaks()

    def _close(self, acted: Acted, obs: Observation | None = None,
               report: HealthReport | None = None) -> None:
        """Record, then notify: how every check and every verb ends."""
        events = self.supervisor.drain_events()
        self.observer.restarts_recorded(acted.restarts)  # re-read, whether or not stored
        record.record_outcome(self.store, self.supervisor, acted.restarts, events)
        if report is not None:
            record.record_health(self.settings, self.target, report, self.clock.now())
            seen = self._with_totals(obs.seen_groups if obs else ())
            gave_up = self.supervisor.reason if self.supervisor.state is State.GAVE_UP else None
            self.notifier.observe(report.checked_at, self.name,
                                  conditions_of(report, seen, gave_up=gave_up))
        for event in events:
            self.notifier.event(event)

    def _with_totals(self, groups: Sequence[ErrorGroup]) -> list[ErrorGroup]:
        """This check's groups with their running totals, so a message shows the count."""
        if not groups:
            return []
        totals = {g.fingerprint: g for g in self.store.error_groups(
            self.name, limit=GROUP_TOTALS_LIMIT)}
        return [totals.get(g.fingerprint, g) for g in groups]
