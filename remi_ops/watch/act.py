"""Act: carry out the supervisor's actions through the process manager.

Capture evidence before a hang restart, stop the whole tree, (re)start; every act is
noted on the target's event stream and the restarts are handed back for the record step.
Blocking (signals, process tree waits): callers run it off the event loop.

Acting never raises: an unexpected error (an ``OSError`` from a full disk, say) is
reported through ``fallback`` (no SQLite needed), and the restart is carried out anyway
when the process could still be started; otherwise the policy retries it with backoff,
except a missing workdir: that is escalated once and restarts are held until it exists
again (``workdir_back``, looked at on every check). Leftovers a stop swept are reported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from remi_ops.alerts.text import restart_summary
from remi_ops.checks.evidence import capture_hang_evidence
from remi_ops.clock import Clock
from remi_ops.config import TargetSettings
from remi_ops.domain import (
    EventKind,
    ExitInfo,
    HealthReport,
    ProcessIdentity,
    RestartReport,
    Severity,
    Trigger,
)
from remi_ops.exceptions import RemiOpsError, WorkdirMissing
from remi_ops.host import ProcessManager
from remi_ops.logs.redact import Redact
from remi_ops.logs.redacted import NO_TEXT, Redacted
from remi_ops.supervision.supervisor import Action, ActionKind, Supervisor
from remi_ops.watch.fallback import FallbackAlerts

log = logging.getLogger(__name__)
#: a hung event loop cannot run a graceful shutdown (an asyncio SIGTERM handler waits for
#: the loop): after the evidence is taken, waiting the whole ``stop_grace_s`` only keeps
#: Remi down longer (found with the example config: 10 s of a 72-s hang restart)
HANG_STOP_GRACE_S = 2.0


def stop_grace(target: TargetSettings, trigger: Trigger) -> float:
    """How long the stop half of a restart waits for SIGTERM before SIGKILL."""
    grace = target.restart.stop_grace_s
    return min(grace, HANG_STOP_GRACE_S) if trigger is Trigger.HANG else grace


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
    #: where a failure of the act path is told when nothing else may work
    fallback: FallbackAlerts | None = None
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
        """Evidence first; failing to gather it must never keep Remi from restarting."""
        ident = self.supervisor.process
        try:
            return capture_hang_evidence(
                ident=ident, snapshot=self.manager.snapshot(ident) if ident else None,
                report=report, stderr_log=self.target.stderr_log,
                send_dump_signal=self.manager.request_dump,
                py_spy_dump=self.manager.py_spy_dump, redact=self.redact)
        except Exception as exc:  # evidence is best effort; the restart is not
            self._failed("capturing hang evidence", exc)
            return self.redact(f"(no evidence: {type(exc).__name__}: {exc})")

    def _stop(self, action: Action) -> None:
        try:
            self.manager.stop(self.supervisor.process, self.target.restart.stop_grace_s)
        except RemiOpsError as exc:
            self._note(EventKind.STOP_FAILED, Severity.PAGE,
                       f"stop failed: {self.redact(str(exc))}", {})
        except Exception as exc:  # reported (no SQLite needed), never raised
            self._failed("stop", exc)
            self._note(EventKind.STOP_FAILED, Severity.PAGE,
                       f"stop failed: {type(exc).__name__}: {self.redact(str(exc))}", {})
        self.supervisor.process = None
        log.info("stopped (%s)", action.reason, extra={"target": self.target.name})
        self._report_swept()

    def _restart(self, action: Action) -> RestartReport:
        started_at, t0 = self.clock.now(), self.clock.monotonic()
        old = self.supervisor.process
        old_pid = old.pid if old else (self.last_exit.pid if self.last_exit else None)
        self.last_exit = None
        evidence, self._evidence = self._evidence, NO_TEXT
        escalated = False
        try:
            new = self._carry_out_restart(old, stop_grace(self.target, action.trigger))
        except Exception as exc:  # any failure: reported, retried with backoff (or held)
            detail = self.redact(str(exc)) or type(exc).__name__
            escalated = self._start_failed(exc, detail)
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
        if not escalated:  # else the escalation is the one message (history keeps both)
            self._note(EventKind.RESTART, Severity.WARNING if report.ok else Severity.PAGE,
                       restart_summary(report), {"restart": report})
        self._report_swept()
        return report

    def _report_swept(self) -> None:
        """Leftovers of the old Remi that the stop (or start) had to sweep are news: helpers
        that setsid away pile up across restarts unless someone fixes Remi."""
        pids = self.manager.take_swept()
        if pids:
            many = "process" if len(pids) == 1 else "processes"
            self._note(EventKind.SWEPT, Severity.WARNING,
                       f"swept {len(pids)} leftover {many} of {self.target.name}: pids "
                       f"{', '.join(map(str, pids))}", {"pids": list(pids)})

    def _start_failed(self, exc: Exception, detail: str) -> bool:
        """Back off like a crash loop, except for a missing workdir: restarts are held
        until it exists again (no attempts that cannot work). True when that was escalated."""
        now, mono = self.clock.now(), self.clock.monotonic()
        if isinstance(exc, WorkdirMissing):
            return self.supervisor.workdir_gone(exc.workdir, exc.detail, now, mono)
        self.supervisor.start_failed(detail, now, mono)
        return False

    def workdir_back(self) -> list[Action]:
        """The start held for a missing workdir, now due if the workdir exists again
        (looked at on every check and tick; nothing else ever creates it)."""
        held = self.supervisor.workdir_missing
        if not held or not Path(held).is_dir():
            return []
        log.info("workdir %s exists again; starting", held, extra={"target": self.target.name})
        return self.supervisor.workdir_back(self.clock.now(), self.clock.monotonic())

    def _carry_out_restart(self, old: ProcessIdentity | None, grace_s: float) -> ProcessIdentity:
        """Stop and start through the manager; when that fails outside its contract (an
        ``OSError`` from a full disk, say), look whether Remi runs anyway, else start
        it once more; only what still fails goes back to the policy as a failed start."""
        try:
            new = self.manager.restart(old, grace_s)
        except RemiOpsError:
            raise
        except Exception as exc:  # reported here, then recovered below
            self._failed("restart", exc)
        else:
            if self.fallback is not None:
                self.fallback.recovered("restart", "start")
            return new
        for attempt in range(2):
            fresh = [i for i in self.manager.find() if old is None or i.pid != old.pid]
            if fresh:  # the start half ran; only its bookkeeping failed
                return fresh[0]
            if attempt == 0:
                try:
                    return self.manager.start()
                except RemiOpsError:
                    raise
                except Exception as exc:  # reported; the look above decides
                    self._failed("start", exc)
        raise RuntimeError("Remi could not be started (see the watcher log)")

    def _failed(self, where: str, exc: BaseException) -> None:
        if self.fallback is not None:
            self.fallback.report(where, exc, self.redact(str(exc)))
        else:
            log.error("%s failed: %s", where, exc, exc_info=exc, extra={"target": self.target.name})

    def _note(self, kind: EventKind, severity: Severity, summary: str,
              data: dict[str, object]) -> None:
        self.supervisor.note(self.clock.now(), kind, severity, summary, data)
