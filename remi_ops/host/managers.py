"""The process manager contract, and the choice of manager the configuration names.

:class:`ProcessManager` is the supervisor's only handle on the target: find, start, stop,
restart, look, wait, ask for a dump, run a short command. Three implementations keep it:
:class:`~remi_ops.host.direct.DirectManager` (``manager = "process"``), and
:class:`~remi_ops.host.services.SystemdManager` / ``LaunchdManager``. All of them build on
:class:`~remi_ops.host.base.BaseManager`; :func:`make_manager` picks one.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from remi_ops.clock import Clock
from remi_ops.config import TargetSettings
from remi_ops.domain import ExitInfo, ProcessIdentity, ProcessSnapshot
from remi_ops.host.commands import MAX_OUTPUT_BYTES, CommandResult
from remi_ops.host.direct import DirectManager
from remi_ops.host.services import LaunchdManager, SystemdManager
from remi_ops.host.stopping import StopResult


class ProcessManager(Protocol):
    """How a target is found, started, stopped and watched; the supervisor's only handle.

    Implementations: :class:`DirectManager`, ``SystemdManager`` and ``LaunchdManager``
    (in :mod:`remi_ops.host.services`). Every method blocks; callers run them in a thread.
    """

    target: TargetSettings

    def find(self, *, shared: bool = False) -> list[ProcessIdentity]:
        """The running target processes, the one to adopt first; 2+ is a duplicate.

        ``shared``: may answer from the process table this round's checks share (up to a
        second old) — for a check's duplicate report, never for what to adopt or signal.
        """
        ...

    def start(self) -> ProcessIdentity:
        """Start the target, or return the running one: never a duplicate."""
        ...

    def stop(self, ident: ProcessIdentity | None, grace_s: float) -> StopResult:
        """Stop ``ident`` (None: whatever runs) and its tree; StopError on survivors."""
        ...

    def restart(self, ident: ProcessIdentity | None, grace_s: float) -> ProcessIdentity:
        """Stop, then start; the new identity."""
        ...

    def take_swept(self) -> tuple[int, ...]:
        """Pids of escaped children stopped by the stops and starts since the last call
        (leftovers of a Remi we started), so the watch can report them; then forget them."""
        ...

    def snapshot(self, ident: ProcessIdentity, *,
                 shared: bool = False) -> ProcessSnapshot | None:
        """One look at the process, None if it is gone (``shared``: its children from the
        round's shared process table)."""
        ...

    def wait_exit(self, ident: ProcessIdentity, timeout: float | None,
                  cancel: threading.Event | None = None) -> ExitInfo | None:
        """Block until it ends; None on timeout or cancel."""
        ...

    def request_dump(self, ident: ProcessIdentity) -> bool:
        """Ask the process for a stack dump (SIGUSR1, only if it handles it); sent?"""
        ...

    def py_spy_dump(self, ident: ProcessIdentity) -> str | None:
        """Every thread's stack from outside (py-spy), None when unavailable."""
        ...

    def run_command(self, argv: Sequence[str], *, cwd: Path | None,
                    env: Mapping[str, str] | None, timeout_s: float,
                    max_output_bytes: int = MAX_OUTPUT_BYTES) -> CommandResult:
        """A short command beside the target (the scan test); its tree dies on timeout."""
        ...


def make_manager(target: TargetSettings, state_dir: Path, *,
                 clock: Clock | None = None) -> ProcessManager:
    """The manager the target's configuration names."""
    if target.manager == "process":
        # the beacon inside Remi finds its file here; the watcher reads it back
        beacon_env = {"REMI_BEACON_FILE": str(target.beacon_file)}
        return DirectManager(target, state_dir, extra_env=beacon_env, clock=clock)
    if target.manager == "kubernetes":
        # the optional extra: imported only when a target names it
        from remi_ops.host.kubernetes import KubernetesManager  # noqa: PLC0415

        return KubernetesManager(target, clock=clock)
    if target.manager == "systemd":
        return SystemdManager(target, clock=clock)
    return LaunchdManager(target, clock=clock)
