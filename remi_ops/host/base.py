"""What every process manager does the same way: look at, wait on and ask a known process.

Once a manager (direct, systemd, launchd) has told us which process is the target, the
rest is the same everywhere: snapshots, waiting for its exit, asking it for a stack
dump and running short commands beside it. :class:`BaseManager` holds that shared half
of the :class:`~remi_ops.host.managers.ProcessManager` contract; the subclasses add
``find``, ``start``, ``stop`` and ``restart``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from remi_ops.clock import Clock
from remi_ops.config import TargetSettings
from remi_ops.domain import ExitInfo, ProcessIdentity, ProcessSnapshot
from remi_ops.host import commands
from remi_ops.host.commands import CommandResult
from remi_ops.host.identity import same_process, snapshot
from remi_ops.host.lifecycle import wait_exit
from remi_ops.host.signals import send_dump_signal

#: how long py-spy may take to read every thread's stack
PY_SPY_TIMEOUT_S = 5.0


class BaseManager:
    """What every manager does the same way: look at, wait on and ask a known process."""

    target: TargetSettings
    clock: Clock

    def snapshot(self, ident: ProcessIdentity, *,
                 shared: bool = False) -> ProcessSnapshot | None:
        return snapshot(ident, shared=shared)

    def wait_exit(self, ident: ProcessIdentity, timeout: float | None,
                  cancel: threading.Event | None = None) -> ExitInfo | None:
        return wait_exit(ident, timeout, cancel=cancel, clock=self.clock)

    def exit_status(self, info: ExitInfo) -> ExitInfo:
        """How a death the shared waiter saw really ended, where more can be learnt:
        the kernel told ours already; a service manager may know an adopted one's."""
        return info

    def request_dump(self, ident: ProcessIdentity) -> bool:
        return send_dump_signal(ident)

    def take_swept(self) -> tuple[int, ...]:
        """Only a manager that spawns Remi itself sweeps its leftovers: nothing here."""
        return ()

    def py_spy_dump(self, ident: ProcessIdentity) -> str | None:
        return commands.py_spy_dump(ident.pid, timeout_s=PY_SPY_TIMEOUT_S) \
            if same_process(ident) else None

    def run_command(self, argv: Sequence[str], *, cwd: Path | None,
                    env: Mapping[str, str] | None, timeout_s: float,
                    max_output_bytes: int = commands.MAX_OUTPUT_BYTES) -> CommandResult:
        return commands.run_command(argv, cwd=cwd, env=env, timeout_s=timeout_s,
                                    max_output_bytes=max_output_bytes)
