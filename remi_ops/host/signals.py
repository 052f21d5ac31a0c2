"""Signals, out and in: the re-verified send, the SIGUSR1 dump request, our own shutdown.

Every signal the seam sends to a target process goes through :func:`send_verified`,
which re-identifies the process immediately before, so a reused PID is never hit.
SIGUSR1 asks for a stack dump only where it cannot kill. :func:`on_stop_signals` is
the other direction: SIGINT/SIGTERM to the watcher (or Bubabot) itself.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path

import psutil

from remi_ops.domain import ProcessIdentity
from remi_ops.exceptions import ProcessError
from remi_ops.host.identity import same_process, verified

log = logging.getLogger(__name__)


def send_verified(proc: psutil.Process, sig: signal.Signals,
                  root: ProcessIdentity, label: str) -> bool:
    """Signal one verified process; False if it is gone or no longer the same process.

    The root is re-identified by pid+create_time+cmdline immediately before; psutil
    re-checks pid+create_time for every other member of its tree. A signal we may not
    send raises :class:`ProcessError` naming ``label``.
    """
    if proc.pid == root.pid and not same_process(root):
        return False
    try:
        proc.send_signal(sig)
    except psutil.AccessDenied as exc:
        raise ProcessError(label, "signal",
                           f"permission denied sending {sig.name} to pid {proc.pid}") from exc
    except psutil.NoSuchProcess:
        return False
    return True


def send_dump_signal(ident: ProcessIdentity, *, assume_handler: bool = False) -> bool:
    """Ask the target for a stack dump with SIGUSR1 (the beacon's faulthandler hook).

    SIGUSR1's default action is to terminate, so it is sent only to the very process we
    identified and only when that process is known to handle it (Linux ``SigCgt``);
    ``assume_handler`` sends it where that cannot be read. False when nothing was sent.
    """
    proc = verified(ident)
    if proc is None:
        return False
    handled = _catches_signal(ident.pid, signal.SIGUSR1)
    if not (handled or (handled is None and assume_handler)):
        log.debug("pid %s does not handle SIGUSR1; no dump requested", ident.pid)
        return False
    return send_verified(proc, signal.SIGUSR1, ident, f"pid {ident.pid}")


def _catches_signal(pid: int, sig: signal.Signals) -> bool | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (sig - 1)))
    return None


def on_stop_signals(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Call ``callback`` on SIGINT/SIGTERM (the watcher's clean shutdown)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, callback)


def signal_name(number: int) -> str:
    """``9`` → ``"SIGKILL"`` (the words a person reads in an exit reason); an unknown
    number stays a number (``"signal 77"``)."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
