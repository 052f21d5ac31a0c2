"""The imperative shell: one check for one target, and the actions that follow.

observe (process, logs, beacon) → assess (pure) → decide (pure supervisor) → act (process
manager) → record (store) → notify (alert conditions and events). Every method here blocks
(psutil, files, SQLite, signals), so async callers run them with ``asyncio.to_thread``; a
per-target lock makes concurrent triggers (schedule, death, operator, button) take turns.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from remi_ops import host
from remi_ops.alerts.text import restart_summary, scan_summary
from remi_ops.beacon import read_beacon
from remi_ops.checks.codewatch import CodeState, code_state
from remi_ops.checks.evidence import capture_hang_evidence
from remi_ops.checks.health import HealthAssessor, Observation, beacon_blocked_s
from remi_ops.checks.healthfile import write_health_file
from remi_ops.checks.scantest import run_scan_test
from remi_ops.clock import Clock
from remi_ops.config import Settings, TargetSettings, secret_values
from remi_ops.domain import (
    ErrorGroup,
    Event,
    ExitInfo,
    HealthReport,
    LogKind,
    LogRecord,
    ProcessIdentity,
    RestartReport,
    ScanResult,
    Severity,
    Status,
)
from remi_ops.exceptions import ProcessError, RemiOpsError
from remi_ops.logs.error_groups import ErrorAggregator
from remi_ops.logs.parse import LogParser, gateway_state
from remi_ops.logs.redact import Redactor
from remi_ops.logs.tail import LogPosition, Tailer
from remi_ops.store.database import Store
from remi_ops.supervisor import Action, ActionKind, State, Supervisor

log = logging.getLogger(__name__)
STREAMS = ("stderr", "stdout")
MAX_PENDING_RECORDS = 20_000
QUIET_S = 0.2


@dataclass(frozen=True, slots=True)
class AlertCondition:
    """A condition true for a target right now (the alert engine decides what to send)."""

    kind: str  # down, hang, unhealthy, error_group, scan_test, gave_up, fatal_config, duplicate
    severity: Severity
    summary: str
    fingerprint: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


class Notifier(Protocol):
    """Where the watchdog's conditions and one-shot events go (the alert engine)."""

    def observe(self, now: datetime, target: str, conditions: list[AlertCondition]) -> None: ...
    def event(self, event: Event) -> None: ...


class TargetWatch:
    """Everything the watchdog knows and does for one target."""

    def __init__(self, settings: Settings, target: TargetSettings, *, store: Store,
                 clock: Clock, notifier: Notifier, manager: host.ProcessManager | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.settings, self.target, self.store, self.clock = settings, target, store, clock
        self.notifier = notifier
        self.manager = manager or host.make_manager(target, settings.state_dir)
        self.redact = Redactor(secret_values(target, environ if environ is not None
                                             else os.environ))
        self.supervisor = Supervisor(target.name, target.restart)
        self.assessor = HealthAssessor(target.health)
        self.lock = threading.RLock()
        self.scan_lock = threading.Lock()
        self.tailers: dict[str, Tailer] = {}
        self.parsers: dict[str, LogParser] = {}
        self.pending: list[LogRecord] = []
        self.gateway = ""
        self.last_report: HealthReport | None = None
        self.seen_groups: tuple[ErrorGroup, ...] = ()
        self.last_exit: ExitInfo | None = None
        self.last_scan: ScanResult | None = None
        self.evidence = ""
        self.scan_due_mono: float | None = None
        self.recheck_due_mono: float | None = None  # a check soon after a restart
        self.code: CodeState | None = None
        self.on_change: Callable[[], None] = lambda: None  # wakes the exit waiter

    @property
    def name(self) -> str:
        return self.target.name

    # ------------------------------------------------------------------ startup

    def startup(self) -> None:
        """Adopt a running Remi or start one; restore what survives a watcher restart."""
        with self.lock:
            saved = self.store.get_state(f"supervisor:{self.name}")
            if isinstance(saved, dict):
                self.supervisor.restore(saved)
            now, mono = self.clock.now(), self.clock.monotonic()
            since = now - timedelta(seconds=self.target.restart.budget_window_s)
            self.supervisor.seed_restarts(
                [(now - r.at).total_seconds() for r in self.store.restarts(self.name, since)],
                mono)
            self.last_scan = self.store.last_scan(self.name)
            self._attach_logs()
            running = self._find()
            if running:
                self.supervisor.adopted(running[0], now, mono)
                self._report_duplicates(running)
                actions: list[Action] = []
            else:
                actions = self.supervisor.not_running(now, mono)
            self._carry_out(actions)
            self.code = self._code_state()
            self._flush_events()

    def _attach_logs(self) -> None:
        for stream in STREAMS:
            path = self.target.stderr_log if stream == "stderr" else self.target.stdout_log
            saved = self.store.load_position(self.name, stream)
            position = LogPosition.from_dict(saved) if saved else None
            self.tailers[stream] = Tailer(path, position,
                                          initial_read_bytes=self.target.health.initial_read_bytes)
            # Remi's own INFO lines are skipped undecoded; discord.py's are kept (gateway)
            self.parsers[stream] = LogParser(source=stream, keep_info=False)

    # ------------------------------------------------------------------ observe

    def _find(self) -> list[ProcessIdentity]:
        try:
            return self.manager.find()
        except ProcessError as exc:
            log.warning("%s: cannot list processes: %s", self.name, exc)
            return []

    def ingest_logs(self) -> list[LogRecord]:
        """Read what was appended since the saved positions; parse it into records.

        A record still being written (a traceback mid-way) is held by the parser until a
        read finds nothing new, so it is never split in two.
        """
        fresh: list[LogRecord] = []
        for stream, tailer in self.tailers.items():
            chunk = tailer.read_new()
            parser = self.parsers[stream]
            if chunk.rotated or chunk.truncated:
                fresh.extend(parser.flush())
            if chunk.data:
                fresh.extend(parser.feed_bytes(chunk.data))
            if parser.pending and (not chunk.data or self._quiet(chunk.position.path)):
                fresh.extend(parser.flush())
            self.store.save_position(self.name, stream, chunk.position.to_dict())
        if fresh:
            self.gateway = gateway_state(fresh) or self.gateway
            self.pending.extend(fresh)
            if len(self.pending) > MAX_PENDING_RECORDS:
                dropped = len(self.pending) - MAX_PENDING_RECORDS
                log.warning("%s: %d log records since the last check; the oldest %d are "
                            "not counted", self.name, len(self.pending), dropped)
                del self.pending[:dropped]
        return fresh

    def _quiet(self, path: str) -> bool:
        """The log has not been written for a moment: a pending record is complete.

        logging writes a record's lines back to back, so a record still being written is
        microseconds old; one that is 0.2 s old is finished (a hang warning is usually the
        last thing a blocked bot writes, and must not wait for the next read).
        """
        try:
            mtime = Path(path).stat().st_mtime
        except OSError:
            return True
        return self.clock.now().timestamp() - mtime > QUIET_S

    def _read_beacon(self) -> Any:
        return read_beacon(self.target.beacon_file, self.clock.now().timestamp())

    def observe(self) -> Observation:
        ident = self.supervisor.process
        # None when it vanished between looks: the exit waiter reports the death
        snapshot = self.manager.snapshot(ident) if ident else None
        self.ingest_logs()
        if any(p.pending for p in self.parsers.values()):
            self.ingest_logs()  # a quiet second read ends a record that was complete
        records, self.pending = tuple(self.pending), []
        now = self.clock.now()
        batch = ErrorAggregator(self.name, self.redact)  # this check's occurrences only
        batch.fold((r for r in records if r.kind is not LogKind.HANG), now)  # hangs: own alert
        self.seen_groups = batch.groups()
        new_fps = set(self.store.upsert_error_groups(self.name, self.seen_groups))
        since = now - timedelta(seconds=self.target.restart.budget_window_s)
        return Observation(
            target=self.name, at=now, supervisor_state=str(self.supervisor.state),
            expected_alive=self.supervisor.state in (State.RUNNING, State.UNHEALTHY),
            process=snapshot, duplicates=tuple(self._find()) if snapshot else (),
            records=records,
            new_groups=tuple(g for g in self.seen_groups if g.fingerprint in new_fps),
            beacon=self._read_beacon(), last_scan=self.last_scan, gateway=self.gateway,
            restarts_recent=sum(1 for r in self.store.restarts(self.name, since)
                                if r.trigger != "start"))

    # ------------------------------------------------------------------ the check

    def check(self, trigger: str = "schedule") -> HealthReport:
        """One full check: observe, assess, decide, act, record, notify."""
        with self.lock:
            self._tick_locked()
            obs = self.observe()
            report = self.assessor.assess(obs)
            self.last_report = report
            self._decide_on(report)
            self._check_code_change()
            self._write_health(report)
            self._notify(report)
            self._flush_events()
            log.debug("%s: check (%s) → %s", self.name, trigger, report.status)
            return report

    def _decide_on(self, report: HealthReport) -> None:
        now, mono = self.clock.now(), self.clock.monotonic()
        if self.supervisor.state not in (State.RUNNING, State.UNHEALTHY, State.STARTING):
            return
        fatal = [f for f in report.findings if f.check == "config"]
        if fatal:
            return  # restarting cannot fix a bad token; the alert escalates to a human
        hang = [f for f in report.findings
                if f.check in ("event_loop", "process") and f.status is Status.DOWN]
        if hang:
            self._carry_out(self.supervisor.unhealthy(now, hang[0].summary, restart=True,
                                                      mono=mono), report)
        elif report.status is Status.DEGRADED:
            self.supervisor.unhealthy(now, "; ".join(report.reasons), restart=False, mono=mono)
        else:
            self.supervisor.healthy(now)

    def probe(self) -> bool:
        """Cheap liveness look between checks (beacon + new log lines); True if it checked."""
        with self.lock:
            fresh = self.ingest_logs()
            urgent = any(r.kind in (LogKind.HANG, LogKind.FATAL_CONFIG) for r in fresh)
            beacon = self._read_beacon()
            h = self.target.health
            ident = self.supervisor.process
            if beacon is not None and ident is not None and beacon.pid in (None, ident.pid):
                urgent = urgent or beacon_blocked_s(beacon) >= h.hang_threshold_s or (
                    beacon.age_s > max(h.beacon_stale_s, h.hang_threshold_s))
                urgent = urgent or (beacon.blocked_for_s > 0 and self._loop_was_fine())
            if urgent:
                self.check("probe")
            return urgent

    def _loop_was_fine(self) -> bool:
        """Report a newly blocked loop once (degraded) rather than on every probe."""
        report = self.last_report
        return report is None or not any(f.check == "event_loop" for f in report.findings)

    # ------------------------------------------------------------------ events

    def handle_exit(self, info: ExitInfo) -> None:
        """The process died: let the policy decide, then act (usually at once)."""
        with self.lock:
            if self.supervisor.process is None or info.pid != self.supervisor.process.pid:
                return
            self.ingest_logs()  # the crash traceback is in the log now
            self.last_exit = info
            actions = self.supervisor.exited(info, self.clock.now(), self.clock.monotonic())
            self._carry_out(actions)
            self._flush_events()
        self.check("exit")

    def tick(self) -> None:
        """Carry out whatever the policy has due (backoff retries, maintenance end)."""
        with self.lock:
            self._tick_locked()
            self._flush_events()

    def _tick_locked(self) -> None:
        self._carry_out(self.supervisor.tick(self.clock.now(), self.clock.monotonic()))

    def seconds_until_due(self) -> float | None:
        return self.supervisor.seconds_until_due(self.clock.monotonic())

    # ------------------------------------------------------------------ operators

    def restart(self, who: str, reason: str, trigger: str = "operator") -> RestartReport:
        with self.lock:
            now, mono = self.clock.now(), self.clock.monotonic()
            self._carry_out(self.supervisor.operator_restart(now, mono, who, reason, trigger))
            self._flush_events()
            return self.last_restart

    def stop(self, who: str, reason: str) -> None:
        with self.lock:
            self._carry_out(self.supervisor.operator_stop(self.clock.now(), who, reason))
            self._flush_events()

    def start(self, who: str) -> None:
        with self.lock:
            self._carry_out(self.supervisor.operator_start(self.clock.now(),
                                                           self.clock.monotonic(), who))
            self._flush_events()

    def maintenance(self, until: datetime, who: str, reason: str) -> None:
        with self.lock:
            self.supervisor.enter_maintenance(self.clock.now(), until, who, reason)
            self._flush_events()

    def end_maintenance(self, who: str) -> None:
        with self.lock:
            self._carry_out(self.supervisor.end_maintenance(self.clock.now(),
                                                            self.clock.monotonic(), who))
            self._flush_events()

    # ------------------------------------------------------------------ act

    last_restart: RestartReport

    def _carry_out(self, actions: list[Action], report: HealthReport | None = None) -> None:
        for action in actions:
            if action.kind is ActionKind.CAPTURE_EVIDENCE:
                self.evidence = self._capture(report)
            elif action.kind is ActionKind.STOP:
                self._stop(action)
            else:
                self._restart(action)
        if actions:
            self.on_change()

    def _capture(self, report: HealthReport | None) -> str:
        ident = self.supervisor.process
        return capture_hang_evidence(
            ident=ident, snapshot=self.manager.snapshot(ident) if ident else None,
            report=report or self.last_report, stderr_log=self.target.stderr_log,
            send_dump_signal=host.send_dump_signal,
            py_spy_dump=lambda pid: host.py_spy_dump(pid, timeout_s=5.0), redact=self.redact)

    def _stop(self, action: Action) -> None:
        ident = self.supervisor.process
        try:
            self.manager.stop(ident, self.target.restart.stop_grace_s)
        except RemiOpsError as exc:
            self._emit("stop_failed", Severity.PAGE, f"stop failed: {exc}", {})
        self.supervisor.process = None
        log.info("%s: stopped (%s)", self.name, action.reason)

    def _restart(self, action: Action) -> None:
        started_at, t0 = self.clock.now(), self.clock.monotonic()
        old = self.supervisor.process
        old_pid = old.pid if old else (self.last_exit.pid if self.last_exit else None)
        self.last_exit = None
        evidence, self.evidence = self.evidence, ""
        try:
            new = self.manager.restart(old, self.target.restart.stop_grace_s)
        except RemiOpsError as exc:
            detail = self.redact(str(exc))
            self.supervisor.start_failed(detail, self.clock.now(), self.clock.monotonic())
            report = RestartReport(self.name, action.reason, action.trigger,
                                   action.requested_by, False, started_at,
                                   self.clock.monotonic() - t0, old_pid, None, detail,
                                   evidence)
        else:
            self._forget_hang_signals()
            self.supervisor.started(new, self.clock.now(), self.clock.monotonic())
            report = RestartReport(self.name, action.reason, action.trigger,
                                   action.requested_by, True, started_at,
                                   self.clock.monotonic() - t0, old_pid, new.pid, "",
                                   evidence)
            self.recheck_due_mono = self.clock.monotonic() + self.target.restart.start_seconds + 1
            if self.target.scan_test.after_restart and self.target.scan_test.command:
                self.scan_due_mono = (self.clock.monotonic() +
                                      max(self.target.restart.start_seconds, 2.0))
        self.last_restart = report
        self.store.record_restart(report)
        self._emit("restart", Severity.WARNING if report.ok else Severity.PAGE,
                   restart_summary(report), {"restart": report})

    def _forget_hang_signals(self) -> None:
        """The old process is gone: its "heartbeat blocked" lines say nothing about the new
        one (they would restart it again). Its errors still count toward error groups."""
        self.ingest_logs()
        self.pending = [r for r in self.pending if r.kind is not LogKind.HANG]
        self.assessor.reset_streaks()

    def _report_duplicates(self, running: list[ProcessIdentity]) -> None:
        if len(running) > 1:
            pids = [p.pid for p in running]
            self._emit("duplicate_found", Severity.PAGE,
                       f"{len(running)} copies of {self.name} are running (pids "
                       f"{', '.join(map(str, pids))}); watching {pids[0]}, leaving the others "
                       "for a human", {"pids": pids})

    # ------------------------------------------------------------------ scan test

    def recheck_due(self) -> bool:
        """After a restart, look again soon so its alerts resolve without waiting a minute."""
        due = self.recheck_due_mono is not None and self.clock.monotonic() >= self.recheck_due_mono
        if due:
            self.recheck_due_mono = None
        return due

    def scan_due(self) -> bool:
        return self.scan_due_mono is not None and self.clock.monotonic() >= self.scan_due_mono

    def scan_test(self, trigger: str = "operator", who: str = "watchdog") -> ScanResult:
        """Run the out-of-band /scan smoke test now and record it (not under the main lock)."""
        with self.scan_lock:
            self.scan_due_mono = None
            code = self.code or self._code_state()
            result = run_scan_test(
                self.name, self.target.scan_test, cwd=self.target.workdir,
                env={**os.environ, **self.target.env}, run=host.run_command,
                redact=self.redact,
                fingerprint=ErrorAggregator(self.name, self.redact).fingerprint_text,
                now=self.clock.now(), commit=code.short)
            self.last_scan = result
            self.store.record_scan(result)
            self._emit("scan_test", Severity.INFO if result.ok else Severity.WARNING,
                       scan_summary(result, trigger),
                       {"scan": result, "trigger": trigger, "requested_by": who})
            self._flush_events()
            return result

    # ------------------------------------------------------------------ post-fix

    def _code_state(self) -> CodeState:
        return code_state(self.target.workdir, self.target.watch_paths)

    def _check_code_change(self) -> None:
        """A fix landed (HEAD moved or watched files changed): restart, then scan test."""
        if not self.target.watch_paths and not (self.target.workdir / ".git").exists():
            return
        current = self._code_state()
        previous, self.code = self.code, current
        if previous is None or not previous.differs(current):
            return
        what = (f"commit {previous.short or '?'} → {current.short}"
                if previous.commit != current.commit else "watched files changed")
        self._emit("code_changed", Severity.INFO, f"code changed ({what})",
                   {"commit": current.commit})
        if self.supervisor.state in (State.STOPPED, State.MAINTENANCE):
            return
        now, mono = self.clock.now(), self.clock.monotonic()
        self._carry_out(self.supervisor.operator_restart(now, mono, "watchdog",
                                                         f"code changed ({what})", "post_fix"))

    # ------------------------------------------------------------------ record & notify

    def _emit(self, kind: str, severity: Severity, summary: str,
              data: Mapping[str, Any]) -> None:
        self.supervisor.events.append(Event(self.name, kind, self.clock.now(), severity,
                                            summary, dict(data)))

    def _flush_events(self) -> None:
        for event in self.supervisor.drain_events():
            if event.kind == "state_changed":
                self.store.record_transition(self.name, event.at, event.data["from"],
                                             event.data["to"], event.data["reason"])
                self.store.put_state(f"supervisor:{self.name}", self.supervisor.to_dict())
            self.notifier.event(event)

    def _write_health(self, report: HealthReport) -> None:
        try:
            write_health_file(self.target.health_file, report, watcher_pid=os.getpid(),
                              watcher_beat=self.clock.now(),
                              check_interval_s=self.settings.watchdog.check_interval_s)
        except OSError as exc:
            log.warning("%s: cannot write %s: %s", self.name, self.target.health_file, exc)

    def _notify(self, report: HealthReport) -> None:
        seen: list[ErrorGroup] = []
        if self.seen_groups:  # running totals only matter for groups seen in this check
            totals = {g.fingerprint: g for g in self.store.error_groups(self.name, limit=200)}
            seen = [totals.get(g.fingerprint, g) for g in self.seen_groups]
        self.notifier.observe(report.checked_at, self.name,
                              conditions_of(report, seen, self.supervisor))


def conditions_of(report: HealthReport, groups: list[ErrorGroup],
                  supervisor: Supervisor) -> list[AlertCondition]:
    """What is true right now, as alert conditions; error groups seen in this check, with
    their running totals, so an announced group's message is edited with the new count."""
    found: list[AlertCondition] = []
    for f in report.findings:
        if f.check == "process":
            found.append(AlertCondition("down", Severity.PAGE, f.summary))
        elif f.check == "event_loop":
            kind = "hang" if f.status is Status.DOWN else "unhealthy"
            found.append(AlertCondition(kind, f.severity, f.summary,
                                        details={"evidence": f.evidence}))
        elif f.check == "config":
            found.append(AlertCondition("fatal_config", Severity.PAGE, f.summary,
                                        details={"evidence": f.evidence}))
        elif f.check == "duplicates":
            found.append(AlertCondition("duplicate", Severity.PAGE, f.summary))
        elif f.check == "scan_test":
            found.append(AlertCondition("scan_test", Severity.WARNING, f.summary,
                                        details={"evidence": f.evidence}))
        elif f.check in ("cpu", "rss", "rate_limit") or (f.check == "errors" and
                                                         "burst" in f.summary):
            found.append(AlertCondition("unhealthy", f.severity, f.summary))
    for group in groups:
        found.append(AlertCondition(
            "error_group", Severity.WARNING, f"{group.title} ({group.culprit or group.kind})",
            group.fingerprint, {"count": group.count, "culprit": group.culprit,
                                "first_seen": group.first_seen.isoformat(),
                                "last_seen": group.last_seen.isoformat(),
                                "evidence": group.sample}))
    if supervisor.state is State.GAVE_UP:
        found.append(AlertCondition("gave_up", Severity.PAGE, supervisor.reason))
    return found
