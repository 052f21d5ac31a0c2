"""What systemd and launchd say about a unit or job: parsed status, and how it ended.

A Remi run by systemd or launchd is not our child, so its exit code cannot come from
``waitpid``; the service manager kept it. ``systemctl show`` holds ``ExecMainPID``,
``ExecMainCode`` (how the main process ended: exited, killed, dumped core) and
``ExecMainStatus`` (the code, or the signal); ``launchctl print`` holds the job's
``last exit code`` and ``last terminating signal``. This module turns them into the
fields of :class:`~remi_ops.domain.ExitInfo`, pure and separately testable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: ``ExecMainCode`` values (the ``si_code`` of the main process's SIGCHLD)
CLD_EXITED, CLD_KILLED, CLD_DUMPED = 1, 2, 3


@dataclass(frozen=True, slots=True)
class UnitStatus:
    """The parts of ``systemctl show`` we use."""

    main_pid: int  # 0 when not running
    active_state: str
    sub_state: str
    exec_main_status: int | None
    #: the pid the Exec* fields describe (the last main process, even after it ended)
    exec_main_pid: int | None = None
    #: how it ended: CLD_EXITED (status is the code), CLD_KILLED/CLD_DUMPED (the signal)
    exec_main_code: int | None = None


def parse_systemctl_show(text: str) -> UnitStatus:
    """``KEY=VALUE`` lines → :class:`UnitStatus`; unknown or missing keys are tolerated."""
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return UnitStatus(main_pid=_int(values.get("MainPID")) or 0,
                      active_state=values.get("ActiveState", "").strip(),
                      sub_state=values.get("SubState", "").strip(),
                      exec_main_status=_int(values.get("ExecMainStatus")),
                      exec_main_pid=_int(values.get("ExecMainPID")),
                      exec_main_code=_int(values.get("ExecMainCode")))


def unit_exit(status: UnitStatus, pid: int) -> tuple[int, int | None] | None:
    """(returncode, signal) of ``pid`` as systemd recorded it; None if it has not (yet).

    A signal death reads as ``returncode = -signal``, as for our own children.
    """
    if status.exec_main_pid != pid or status.exec_main_status is None:
        return None
    if status.exec_main_code == CLD_EXITED:
        return status.exec_main_status, None
    if status.exec_main_code in (CLD_KILLED, CLD_DUMPED):
        return -status.exec_main_status, status.exec_main_status
    return None


@dataclass(frozen=True, slots=True)
class JobStatus:
    """The parts of ``launchctl print`` we use."""

    pid: int | None
    state: str
    last_exit_code: int | None
    #: the signal that ended the last run, when one did
    last_signal: int | None = None


def parse_launchctl_print(text: str) -> JobStatus:
    """Top-level ``key = value`` lines of ``launchctl print`` (nested blocks are skipped)."""
    values: dict[str, str] = {}
    depth = 0
    for raw in text.splitlines():
        line = raw.strip()
        if line == "}":
            depth -= 1
            continue
        if depth == 1 and " = " in line and not line.endswith("{"):
            key, _, value = line.partition(" = ")
            values.setdefault(key.strip(), value.strip())
        if line.endswith("{"):
            depth += 1
    code = re.match(r"-?\d+", values.get("last exit code", ""))  # "78: EX_CONFIG"
    sig = re.search(r"\d+", values.get("last terminating signal", ""))  # "Killed: 9"
    return JobStatus(pid=_int(values.get("pid")), state=values.get("state", ""),
                     last_exit_code=int(code.group()) if code else None,
                     last_signal=int(sig.group()) if sig else None)


def job_exit(status: JobStatus, pid: int) -> tuple[int, int | None] | None:
    """(returncode, signal) of the job's last run, once ``pid`` no longer runs it."""
    if status.pid == pid:
        return None
    if status.last_signal:
        return -status.last_signal, status.last_signal
    if status.last_exit_code is not None:
        return status.last_exit_code, None
    return None


def _int(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value is not None else None
    except ValueError:
        return None
