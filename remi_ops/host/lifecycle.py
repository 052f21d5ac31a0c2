"""Birth and death: spawn the target detached, keep our children's exit status, wait_exit.

A process we spawned is our child: only we can learn how it ended (exit code or signal),
and only once, so its Popen is kept in a registry that stopping and waiting consult. A
process we adopted is not our child: its death is watched with a pidfd (Linux) or polled,
and its exit code is unknown.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import psutil

from remi_ops.clock import Clock, SystemClock
from remi_ops.config import TargetSettings
from remi_ops.domain import ExitInfo, ProcessIdentity
from remi_ops.exceptions import SpawnError, WorkdirMissing
from remi_ops.host.environment import child_environment
from remi_ops.host.identity import GONE, cwd_of, is_alive, same_identity
from remi_ops.host.spawnmark import SPAWN_ENV, new_spawn_id

log = logging.getLogger(__name__)

#: how often blocking waits look at their cancel event (and poll, where they must)
POLL_S = 0.02
_WAIT_SLICE_S = 0.1
#: how long a new child may take to show its argv and environment (normally microseconds)
EXEC_VISIBLE_S = 2.0
_EXEC_POLL_S = 0.001
_SYSTEM_CLOCK = SystemClock()


# --------------------------------------------------------------------------- our children


class _Children:
    """The Popen objects of the processes we spawned, so their exit status is known.

    Only the parent can learn a child's exit status, and only once: whoever reaps it
    first wins. Keeping the Popen (and never letting psutil reap these pids) keeps it ours.
    """

    _KEEP_EXITED = 16

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._popens: dict[int, tuple[ProcessIdentity, subprocess.Popen[bytes]]] = {}

    def add(self, ident: ProcessIdentity, popen: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._popens[ident.pid] = (ident, popen)
            exited = [pid for pid, (_, p) in self._popens.items() if p.poll() is not None]
            for pid in exited[: max(0, len(exited) - self._KEEP_EXITED)]:
                del self._popens[pid]

    def get(self, ident: ProcessIdentity) -> subprocess.Popen[bytes] | None:
        with self._lock:
            entry = self._popens.get(ident.pid)
        if entry is None or not same_identity(entry[0], ident):
            return None
        return entry[1]

    def reap_exited(self) -> int:
        """Collect the exit status of children that ended; return how many still run."""
        with self._lock:
            return sum(1 for _, p in self._popens.values() if p.poll() is None)


_CHILDREN = _Children()


def reap_exited_children() -> int:
    """Reap our children that have ended (a watcher leaving Remi running keeps the rest)."""
    return _CHILDREN.reap_exited()


def own_child(ident: ProcessIdentity) -> subprocess.Popen[bytes] | None:
    """The Popen of ``ident`` if we spawned it (reap it only through this), else None."""
    return _CHILDREN.get(ident)


# --------------------------------------------------------------------------- spawn


def spawn(target: TargetSettings, extra_env: Mapping[str, str] | None = None) -> ProcessIdentity:
    """Start the target detached: own session, argv (no shell), logs appended.

    The child gets a clean environment (:func:`child_environment`) carrying a fresh
    spawn marker, and is known from then on by pid + create time + marker. Raises
    :class:`WorkdirMissing` for a missing workdir (never created here), and
    :class:`SpawnError` for a command that is not found or not executable.
    """
    argv = list(target.command)
    if not argv:
        raise SpawnError(target.name, "no command configured")
    workdir = target.workdir
    if not workdir.is_dir():
        raise WorkdirMissing(target.name, str(workdir), "is not a directory"
                             if workdir.exists() else "does not exist")
    spawn_id = new_spawn_id()
    env = child_environment(target, os.environ, {**(extra_env or {}), SPAWN_ENV: spawn_id})
    _check_executable(target.name, argv[0], workdir, env)
    with _open_append(target, target.stdout_log) as out, \
            _open_append(target, target.stderr_log) as err:
        try:
            popen = subprocess.Popen(argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=err, start_new_session=True)
        except OSError as exc:
            raise SpawnError(target.name, f"command {argv[0]!r} could not be started "
                                          f"({exc.strerror or exc})") from exc
    _await_exec(target.name, popen.pid)
    ident = replace(_identity_of_child(target.name, popen, argv), spawn_id=spawn_id)
    _CHILDREN.add(ident, popen)
    log.info("started pid %s: %s", ident.pid, " ".join(argv), extra={"target": target.name})
    return ident


def _check_executable(name: str, program: str, workdir: Path, env: Mapping[str, str]) -> None:
    if "/" in program:
        path = Path(program) if Path(program).is_absolute() else workdir / program
        ok = path.is_file() and os.access(path, os.X_OK)
    else:
        ok = shutil.which(program, path=env.get("PATH", os.defpath)) is not None
    if not ok:
        raise SpawnError(name, f"command {program!r} not found or not executable")


def _open_append(target: TargetSettings, path: Path) -> BinaryIO:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "ab")  # the caller's with-statement closes it
    except OSError as exc:
        detail = f"cannot open {path} for appending ({exc.strerror})"
        raise SpawnError(target.name, detail) from exc


def _await_exec(name: str, pid: int) -> None:
    """Wait until the child shows its own argv and marker in ``/proc``.

    ``Popen`` returns once exec has closed its error pipe, but the kernel does that before
    it sets up the new program's argv and environment: for a moment ``/proc`` shows an
    empty cmdline and no marker, and the child we just started reads as a stranger (an
    identity with ``cmdline=()``, a pidfile hint set aside, a sweep that misses it). The
    window is microseconds, longer under load; a child that already ended ends the wait.
    """
    deadline = time.monotonic() + EXEC_VISIBLE_S
    try:
        proc = psutil.Process(pid)
        while not (proc.cmdline() and proc.environ()):  # both set up: exec is done
            if proc.status() == psutil.STATUS_ZOMBIE:
                return
            if time.monotonic() >= deadline:
                log.warning("pid %s did not show its command line within %.0fs of "
                            "its start", pid, EXEC_VISIBLE_S, extra={"target": name})
                return
            time.sleep(_EXEC_POLL_S)
    except (*GONE, OSError):  # ended, or not ours to read: nothing to wait for
        return


def _identity_of_child(name: str, popen: subprocess.Popen[bytes],
                       argv: Sequence[str]) -> ProcessIdentity:
    """Our child's identity even if it already exited (it stays a zombie until reaped)."""
    try:
        proc = psutil.Process(popen.pid)
        create_time = proc.create_time()
    except GONE as exc:  # reaped behind our back (a waitpid(-1) elsewhere)
        popen.poll()
        raise SpawnError(name, f"pid {popen.pid} vanished right after start") from exc
    try:
        cmdline = tuple(proc.cmdline()) or tuple(argv)
    except GONE:
        cmdline = tuple(argv)
    return ProcessIdentity(popen.pid, create_time, cmdline, cwd_of(proc))


# --------------------------------------------------------------------------- death


def wait_exit(ident: ProcessIdentity, timeout: float | None = None, *,
              cancel: threading.Event | None = None,
              clock: Clock = _SYSTEM_CLOCK) -> ExitInfo | None:
    """Block until the process ends; None on timeout or when ``cancel`` is set.

    Our own child is waited through its Popen, so its exit code or signal is known; an
    adopted process is watched with a pidfd (Linux) or polled, and its code is unknown.
    Death is noticed within ~50 ms; cancellation within ~0.1 s.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    popen = _CHILDREN.get(ident)
    if popen is not None:
        if not _wait_popen(popen, deadline, cancel):
            return None
        code = popen.returncode
        sig = -code if code is not None and code < 0 else None
        return ExitInfo(ident.pid, code, sig, clock.now())
    if not _wait_foreign(ident, deadline, cancel):
        return None
    return ExitInfo(ident.pid, None, None, clock.now(), known=False)


def _slice(deadline: float | None, cancel: threading.Event | None) -> float | None:
    """The next wait slice, or None when the deadline passed or we were cancelled."""
    if cancel is not None and cancel.is_set():
        return None
    if deadline is None:
        return _WAIT_SLICE_S
    remaining = deadline - time.monotonic()
    return None if remaining <= 0 else min(remaining, _WAIT_SLICE_S)


def _wait_popen(popen: subprocess.Popen[bytes], deadline: float | None,
                cancel: threading.Event | None) -> bool:
    while popen.poll() is None:
        step = _slice(deadline, cancel)
        if step is None:
            return False
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(step)
    return True


def _wait_foreign(ident: ProcessIdentity, deadline: float | None,
                  cancel: threading.Event | None) -> bool:
    try:
        fd = os.pidfd_open(ident.pid)
    except ProcessLookupError:
        return True
    except (AttributeError, OSError):  # not Linux ≥ 5.3: poll instead
        return _poll_foreign(ident, deadline, cancel)
    try:
        if not is_alive(ident):  # gone, or the pid was reused before we opened it
            return True
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            step = _slice(deadline, cancel)
            if step is None:
                return False
            if poller.poll(step * 1000):
                return True
    finally:
        os.close(fd)


def _poll_foreign(ident: ProcessIdentity, deadline: float | None,
                  cancel: threading.Event | None) -> bool:
    while is_alive(ident):
        step = _slice(deadline, cancel)
        if step is None:
            return False
        time.sleep(min(step, POLL_S))
    return True
