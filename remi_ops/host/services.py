"""The service managers: Remi as a systemd unit or as a launchd job.

Built on :class:`~remi_ops.host.base.BaseManager` (what every manager shares);
:func:`remi_ops.host.managers.make_manager` picks these when the target names them.
systemd and launchd own the process; we drive their control tools through
``run_command`` with argv lists, parse their status output, and still identify the main
process ourselves, so snapshots and death events work the same way.
A copy of the command running *outside* the unit or job (the duplicate a KeepAlive can
leave) is found too, and is stopped directly.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from remi_ops.clock import Clock, SystemClock
from remi_ops.config import TargetSettings
from remi_ops.domain import ExitInfo, ProcessIdentity
from remi_ops.exceptions import ProcessError, SpawnError, StopError
from remi_ops.host.adoption import find_target_processes
from remi_ops.host.base import BaseManager
from remi_ops.host.commands import run_command
from remi_ops.host.identity import identify, is_alive
from remi_ops.host.lifecycle import wait_exit as wait_gone
from remi_ops.host.service_status import (
    JobStatus,
    UnitStatus,
    job_exit,
    parse_launchctl_print,
    parse_systemctl_show,
    unit_exit,
)
from remi_ops.host.stopping import KILL_WAIT_S, StopResult, stop

log = logging.getLogger(__name__)

#: how long systemctl/launchctl may take (systemd's own stop timeout is 90 s by default)
CTL_TIMEOUT_S = 120.0
#: how long to wait for a (re)started unit or job to show its new main pid
START_WAIT_S = 5.0
#: how much of a failing command's output goes into the error
ERROR_OUTPUT_CHARS = 2000
#: how long the service manager may take to record how its main process ended
EXIT_STATUS_WAIT_S = 2.0
_T = TypeVar("_T")

__all__ = ["JobStatus", "LaunchdManager", "SystemdManager", "UnitStatus",
           "parse_launchctl_print", "parse_systemctl_show"]


# --------------------------------------------------------------------------- systemd


class _ServiceManager(BaseManager):
    """Shared by systemd and launchd: run the control tool, poll for the main pid."""

    _tool = ""

    def _ctl(self, args: Sequence[str], timeout_s: float = CTL_TIMEOUT_S) -> str:
        argv = [*self._prefix(), *args]
        operation = " ".join([self._tool, *args[:1]])
        try:
            result = run_command(argv, cwd=None, env=None, timeout_s=timeout_s)
        except SpawnError as exc:
            raise ProcessError(self.target.name, operation, exc.detail) from exc
        if result.timed_out:
            raise ProcessError(self.target.name, operation,
                               f"{' '.join(argv)} timed out after {timeout_s:.0f}s")
        if result.exit_code != 0:
            raise ProcessError(self.target.name, operation,
                               f"{' '.join(argv)} exited {result.exit_code}: "
                               f"{result.output.strip()[-ERROR_OUTPUT_CHARS:]}")
        return result.output

    def _prefix(self) -> list[str]:
        return [self._tool]

    def _main_pid(self) -> int:
        raise NotImplementedError

    def _describe(self) -> str:
        raise NotImplementedError

    def _exit_of(self, pid: int) -> tuple[int, int | None] | None:
        raise NotImplementedError

    def wait_exit(self, ident: ProcessIdentity, timeout: float | None,
                  cancel: threading.Event | None = None) -> ExitInfo | None:
        """Wait for the death, then ask the service manager how it ended (code or signal).

        Unknown (``known=False``) when it has not recorded it within a moment, or when its
        control tool fails: a death is never held back for want of its exit status.
        """
        info = super().wait_exit(ident, timeout, cancel)
        return info if info is None else self.exit_status(info)

    def exit_status(self, info: ExitInfo) -> ExitInfo:
        """Ask the service manager how its main process ended (code or signal); unknown
        when it has not recorded it within a moment, or when its control tool fails."""
        if info.known:
            return info
        try:
            ended = _poll(lambda: self._exit_of(info.pid), EXIT_STATUS_WAIT_S)
        except ProcessError as exc:
            log.warning("how pid %s ended is unknown: %s", info.pid, exc.detail,
                        extra={"target": self.target.name})
            return info
        if ended is None:
            return info
        return replace(info, returncode=ended[0], signal=ended[1], known=True)

    def find(self, *, shared: bool = False) -> list[ProcessIdentity]:
        """The unit's/job's main process first, then any copy running outside it
        (``shared``: from the round's shared process table, for a duplicate report)."""
        main_pid = self._main_pid()
        main = identify(main_pid) if main_pid else None
        return [*([main] if main else []), *self._strays(main_pid, shared)]

    def _stop_stray(self, ident: ProcessIdentity, grace_s: float) -> StopResult:
        """A copy running outside the service manager is stopped directly, tree and all."""
        log.warning("stopping pid %s, which runs outside its service manager",
                    ident.pid, extra={"target": self.target.name})
        return stop(ident, grace_s, target_name=self.target.name)

    def _strays(self, main_pid: int, shared: bool = False) -> list[ProcessIdentity]:
        """Copies of the command outside the unit/job: duplicates to report, never ignore."""
        if not self.target.command:
            return []
        return find_target_processes(self.target, shared=shared, besides=(main_pid,))

    def _wait_main(self, operation: str, old_pid: int | None) -> ProcessIdentity:
        """Poll until the service shows a live main pid other than ``old_pid``."""
        def new_main() -> ProcessIdentity | None:
            pid = self._main_pid()
            return identify(pid) if pid and pid != old_pid else None

        ident = _poll(new_main, START_WAIT_S)
        if ident is None:
            raise ProcessError(self.target.name, operation,
                               f"no new main process after {START_WAIT_S:.0f}s "
                               f"({self._describe()})")
        return ident

    def _current(self, ident: ProcessIdentity | None) -> tuple[ProcessIdentity | None, bool]:
        """The process a stop is about, and whether it is a live stray outside the service.

        An ``ident`` that already died (the service may have replaced it) means the
        service's current main process.
        """
        main_pid = self._main_pid()
        if ident is not None and ident.pid != main_pid:
            if is_alive(ident):
                return ident, True
            ident = None
        return (ident or (identify(main_pid) if main_pid else None)), False

    def _verify_gone(self, ident: ProcessIdentity | None, started: float,
                     killed: bool = False) -> StopResult:
        if ident is not None and is_alive(ident):
            raise StopError(self.target.name, f"pid {ident.pid} still running after "
                            f"{self._tool} stop ({self._describe()})", (ident.pid,))
        return StopResult(stopped=ident is not None, killed=killed, survivors=(),
                          duration_s=time.monotonic() - started)


def _poll(probe: Callable[[], _T | None], timeout_s: float) -> _T | None:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value is not None or time.monotonic() >= deadline:
            return value
        time.sleep(0.1)


class SystemdManager(_ServiceManager):
    """Remi as a systemd unit: systemd owns the tree (cgroup) and the stop timeout."""

    _tool = "systemctl"

    def __init__(self, target: TargetSettings, *, clock: Clock | None = None) -> None:
        self.target = target
        self.unit = target.unit
        self.clock = clock or SystemClock()

    def _prefix(self) -> list[str]:
        return ["systemctl", "--user"] if self.target.user_unit else ["systemctl"]

    def status(self) -> UnitStatus:
        return parse_systemctl_show(self._ctl(
            ["show", self.unit, "--property=MainPID,ActiveState,SubState,ExecMainStatus,"
                                "ExecMainPID,ExecMainCode"]))

    def _exit_of(self, pid: int) -> tuple[int, int | None] | None:
        return unit_exit(self.status(), pid)

    def _main_pid(self) -> int:
        return self.status().main_pid

    def _describe(self) -> str:
        st = self.status()
        return f"ActiveState={st.active_state} SubState={st.sub_state}"

    def start(self) -> ProcessIdentity:
        self._ctl(["start", self.unit])
        return self._wait_main("start", None)

    def stop(self, ident: ProcessIdentity | None, grace_s: float) -> StopResult:
        """``systemctl stop`` waits for the unit's own TERM → TimeoutStopSec → KILL."""
        started = time.monotonic()
        current, stray = self._current(ident)
        if stray and current is not None:
            return self._stop_stray(current, grace_s)
        self._ctl(["stop", self.unit], timeout_s=max(CTL_TIMEOUT_S, grace_s + 30))
        return self._verify_gone(current, started)

    def restart(self, ident: ProcessIdentity | None, grace_s: float) -> ProcessIdentity:
        current, stray = self._current(ident)
        if stray and current is not None:
            self._stop_stray(current, grace_s)
            current = None
        self._ctl(["restart", self.unit], timeout_s=max(CTL_TIMEOUT_S, grace_s + 30))
        return self._wait_main("restart", current.pid if current else None)


# --------------------------------------------------------------------------- launchd


class LaunchdManager(_ServiceManager):
    """Remi as a launchd job in the user's GUI domain.

    ``launchctl kill`` only signals; a job with KeepAlive is restarted by launchd itself.
    """

    _tool = "launchctl"

    def __init__(self, target: TargetSettings, *, clock: Clock | None = None,
                 uid: int | None = None) -> None:
        self.target = target
        self.service = f"gui/{os.getuid() if uid is None else uid}/{target.label}"
        self.clock = clock or SystemClock()

    def status(self) -> JobStatus:
        return parse_launchctl_print(self._ctl(["print", self.service]))

    def _exit_of(self, pid: int) -> tuple[int, int | None] | None:
        return job_exit(self.status(), pid)

    def _main_pid(self) -> int:
        return self.status().pid or 0

    def _describe(self) -> str:
        st = self.status()
        return f"state={st.state or '?'} last exit code={st.last_exit_code}"

    def start(self) -> ProcessIdentity:
        self._ctl(["kickstart", self.service])
        return self._wait_main("start", None)

    def stop(self, ident: ProcessIdentity | None, grace_s: float) -> StopResult:
        """``kill SIGTERM``, wait ``grace_s``, ``kill SIGKILL``, verify."""
        started = time.monotonic()
        current, stray = self._current(ident)
        if stray and current is not None:
            return self._stop_stray(current, grace_s)
        if current is None:
            return StopResult(False, False, (), time.monotonic() - started)
        self._ctl(["kill", "SIGTERM", self.service])
        if wait_gone(current, grace_s) is not None:
            return self._verify_gone(current, started)
        log.warning("pid %s ignored SIGTERM for %.1fs; sending SIGKILL",
                    current.pid, grace_s, extra={"target": self.target.name})
        if is_alive(current) and self._main_pid() == current.pid:
            self._ctl(["kill", "SIGKILL", self.service])  # only ever the job's current pid
        wait_gone(current, KILL_WAIT_S)
        return self._verify_gone(current, started, killed=True)

    def restart(self, ident: ProcessIdentity | None, grace_s: float) -> ProcessIdentity:
        current, stray = self._current(ident)
        if stray and current is not None:
            self._stop_stray(current, grace_s)
            current = None
        self._ctl(["kickstart", "-k", self.service])
        return self._wait_main("restart", current.pid if current else None)
