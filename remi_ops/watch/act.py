"""Act: carry out the supervisor's actions through the process manager.

Capture evidence before a hang restart, stop the whole tree, (re)start; every act is
noted on the target's event stream and the restarts are handed back for the record step.
Blocking (signals, process tree waits): callers run it off the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from remi_ops.alerts.text import restart_summary
from remi_ops.checks.evidence import capture_hang_evidence
from remi_ops.clock import Clock
from remi_ops.config import TargetSettings
from remi_ops.domain import (
    EventKind,
    ExitInfo,
    HealthReport,
    RestartReport,
    Severity,
)
from remi_ops.exceptions import RemiOpsError
from remi_ops.host import ProcessManager
from remi_ops.logs.redact import Redact
from remi_ops.redacted import NO_TEXT, Redacted
from remi_ops.supervisor import Action, ActionKind, Supervisor

log = logging.getLogger(__name__)


@dataclass
class Acted:
    """What one round of acting did, for the record step and the caller."""

    restarts: list[RestartReport] = field(default_factory=list)
    stopped: bool = False

    def extend(self, other: Acted) -> None:
        self.restarts += other.restarts
        self.stopped = self.stopped or other.stopped


@dataclass
class ActionRunner:
    """The hands of one target's watch: the only place its actions touch the process."""

    target: TargetSettings
    supervisor: Supervisor
    manager: ProcessManager
    clock: Clock
    redact: Redact
    #: the new process starts with a clean slate (old hang lines, threshold streaks)
    on_new_process: Callable[[], None] = lambda: None
    last_exit: ExitInfo | None = None
    _evidence: Redacted = NO_TEXT

    def run(self, actions: Sequence[Action], report: HealthReport | None = None) -> Acted:
        acted = Acted()
        for action in actions:
            if action.kind is ActionKind.CAPTURE_EVIDENCE:
                self._evidence = self._capture(report)
            elif action.kind is ActionKind.STOP:
                self._stop(action)
                acted.stopped = True
            else:
                acted.restarts.append(self._restart(action))
        return acted

    def _capture(self, report: HealthReport | None) -> Redacted:
        ident = self.supervisor.process
        return capture_hang_evidence(
            ident=ident, snapshot=self.manager.snapshot(ident) if ident else None,
            report=report, stderr_log=self.target.stderr_log,
            send_dump_signal=self.manager.request_dump,
            py_spy_dump=self.manager.py_spy_dump, redact=self.redact)

    def _stop(self, action: Action) -> None:
        try:
            self.manager.stop(self.supervisor.process, self.target.restart.stop_grace_s)
        except RemiOpsError as exc:
            self._note(EventKind.STOP_FAILED, Severity.PAGE,
                       f"stop failed: {self.redact(str(exc))}", {})
        self.supervisor.process = None
        log.info("%s: stopped (%s)", self.target.name, action.reason)

    def _restart(self, action: Action) -> RestartReport:
        started_at, t0 = self.clock.now(), self.clock.monotonic()
        old = self.supervisor.process
        old_pid = old.pid if old else (self.last_exit.pid if self.last_exit else None)
        self.last_exit = None
        evidence, self._evidence = self._evidence, NO_TEXT
        try:
            new = self.manager.restart(old, self.target.restart.stop_grace_s)
        except RemiOpsError as exc:
            detail = self.redact(str(exc))
            self.supervisor.start_failed(detail, self.clock.now(), self.clock.monotonic())
            report = RestartReport(self.target.name, action.reason, action.trigger,
                                   action.requested_by, False, started_at,
                                   self.clock.monotonic() - t0, old_pid, None, detail,
                                   evidence)
        else:
            self.on_new_process()
            self.supervisor.started(new, self.clock.now(), self.clock.monotonic())
            report = RestartReport(self.target.name, action.reason, action.trigger,
                                   action.requested_by, True, started_at,
                                   self.clock.monotonic() - t0, old_pid, new.pid, "",
                                   evidence)
        self._note(EventKind.RESTART, Severity.WARNING if report.ok else Severity.PAGE,
                   restart_summary(report), {"restart": report})
        return report

    def _note(self, kind: EventKind, severity: Severity, summary: str,
              data: dict[str, object]) -> None:
        self.supervisor.note(self.clock.now(), kind, severity, summary, data)
