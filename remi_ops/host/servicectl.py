"""Running ``launchctl`` and ``systemctl`` for ``remi-ops service``: argv lists, a timeout,
the output kept, and never an exception — a missing tool or a refusal is a value the
command line turns into one clear line.

Also who is installing (user name, uid, root or not): the service files name them.
"""

from __future__ import annotations

import getpass
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from remi_ops.exceptions import ProcessError
from remi_ops.host.commands import run_command

#: launchctl and systemctl answer in well under a second; ``enable --now`` waits for the
#: start, which is quick for ``remi-ops watch``
CTL_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class CtlOutcome:
    """What one manager command did."""

    argv: tuple[str, ...]
    exit_code: int | None  # None: it did not run, or timed out
    output: str
    problem: str = ""  # one line when it did not run or timed out

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def summary(self) -> str:
        """One line for the operator: the command and how it ended."""
        command = " ".join(self.argv)
        if self.problem:
            return f"{command}: {self.problem}"
        last = self.output.strip().splitlines()[-1:] or [""]
        detail = f" ({last[0][:200]})" if last[0] else ""
        return f"{command}: {'ok' if self.ok else f'exit {self.exit_code}'}{detail}"


def run_ctl(argv: Sequence[str], timeout_s: float = CTL_TIMEOUT_S) -> CtlOutcome:
    """Run ``argv``; every failure comes back as a :class:`CtlOutcome`, never raised."""
    if shutil.which(argv[0]) is None:
        return CtlOutcome(tuple(argv), None, "", f"{argv[0]} not found on PATH")
    try:
        result = run_command(argv, cwd=None, env=None, timeout_s=timeout_s)
    except ProcessError as exc:  # SpawnError: it vanished or is not executable
        return CtlOutcome(tuple(argv), None, "", exc.detail)
    if result.timed_out:
        return CtlOutcome(tuple(argv), None, result.output,
                          f"timed out after {timeout_s:.0f}s")
    return CtlOutcome(tuple(argv), result.exit_code, result.output)


def current_user() -> str:
    """The user the service runs as: under ``sudo``, the person who ran it."""
    if is_root() and os.environ.get("SUDO_USER"):
        return os.environ["SUDO_USER"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid with no name (some containers)
        return str(os.getuid())


def current_uid() -> int:
    """The uid whose ``gui/`` launchd domain a LaunchAgent goes to (``SUDO_UID`` under sudo)."""
    if is_root() and os.environ.get("SUDO_UID", "").isdigit():
        return int(os.environ["SUDO_UID"])
    return os.getuid()


def is_root() -> bool:
    return os.geteuid() == 0


def home_of(user: str) -> Path:
    """``user``'s home directory (for a system-wide service run as that user)."""
    home = Path(f"~{user}").expanduser()
    return home if home.is_absolute() else Path.home()
