"""The one seam to the OS: identity, adoption, spawn, stop, death, lock, commands.

The old runbook restarted Remi with ``pkill -f "python.*main.py"``, which kills every
matching Python process on the machine. Everything here exists so that never happens:

* a process is known by its identity (pid + create_time + cmdline), re-checked immediately
  before every signal, so a PID reused by another program is never signalled;
* the target is found by its working directory *and* its argv, so a copy of the same
  command in another directory is never matched;
* a stop takes the whole tree (children, grandchildren, the session the bot leads), sends
  SIGCONT, SIGTERM, waits, SIGKILLs the rest and verifies that nothing survives.

Only this module, :mod:`remi_ops.host.commands`, :mod:`remi_ops.host.lock` and
:mod:`remi_ops.host.services` (the systemd and launchd managers) import
psutil, subprocess, signal or fcntl; every name the rest of remi_ops needs is here.
Calls block; callers run them in threads, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import psutil

from remi_ops.clock import Clock, SystemClock
from remi_ops.config import TargetSettings
from remi_ops.domain import ExitInfo, ProcessIdentity, ProcessSnapshot
from remi_ops.exceptions import ProcessError, SpawnError, StopError
from remi_ops.host.commands import CommandResult, py_spy_dump, run_command, which
from remi_ops.host.lock import TargetLock

log = logging.getLogger(__name__)
__all__ = ["CommandResult", "TargetLock", "py_spy_dump", "run_command", "which"]

#: psutil derives create_time from the boot time, which moves when the wall clock is
#: stepped; a reused PID also needs the same cmdline to pass, so a second is safe.
CREATE_TIME_TOLERANCE_S = 1.0
#: how long to wait for the tree to disappear after SIGKILL before declaring survivors
KILL_WAIT_S = 5.0
#: how often blocking waits look at their cancel event (and poll, where they must)
POLL_S = 0.02
_WAIT_SLICE_S = 0.1
PY_SPY_TIMEOUT_S = 5.0
MAX_OUTPUT_BYTES = 1_000_000
_GONE = (psutil.NoSuchProcess, psutil.AccessDenied)  # ZombieProcess is a NoSuchProcess
_SYSTEM_CLOCK = SystemClock()


@dataclass(frozen=True, slots=True)
class StopResult:
    """What a stop did.

    ``stopped`` is False when nothing of the process was running (nothing to do);
    ``killed`` when part of the tree needed SIGKILL after the grace period. A stop that
    leaves survivors raises :class:`StopError` instead, so ``survivors`` is only non-empty
    for managers that report rather than raise.
    """

    stopped: bool
    killed: bool
    survivors: tuple[int, ...]
    duration_s: float


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
        if entry is None or not _same_identity(entry[0], ident):
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


def _same_start(a: float, b: float) -> bool:
    return abs(a - b) <= CREATE_TIME_TOLERANCE_S


def _same_identity(a: ProcessIdentity, b: ProcessIdentity) -> bool:
    return (a.pid == b.pid and _same_start(a.create_time, b.create_time)
            and (not a.cmdline or not b.cmdline or a.cmdline == b.cmdline))


# --------------------------------------------------------------------------- identity


def identify(pid: int) -> ProcessIdentity | None:
    """The identity of a live process, or None if it is gone, a zombie or not readable."""
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            create_time = proc.create_time()
            cmdline = tuple(proc.cmdline())
        return ProcessIdentity(pid, create_time, cmdline, _cwd_of(proc))
    except _GONE:
        return None


def _cwd_of(proc: psutil.Process) -> str | None:
    try:
        return proc.cwd()
    except _GONE:
        return None


def _verified(ident: ProcessIdentity) -> psutil.Process | None:
    """A psutil handle on ``ident`` if it is still that very process (zombies count)."""
    try:
        proc = psutil.Process(ident.pid)
        if not _same_start(proc.create_time(), ident.create_time):
            return None
        with contextlib.suppress(psutil.ZombieProcess):
            cmdline = tuple(proc.cmdline())
            if cmdline and ident.cmdline and cmdline != ident.cmdline:
                return None
        return proc
    except _GONE:
        return None


def same_process(ident: ProcessIdentity) -> bool:
    """True if ``ident.pid`` is still the process we identified (not a reused PID).

    A zombie of that process still counts: signalling it is harmless.
    """
    return _verified(ident) is not None


def is_alive(ident: ProcessIdentity) -> bool:
    """True if the very process we identified is still running (not a zombie)."""
    return same_process(ident) and not _zombie(ident.pid)


_SNAPSHOT_CACHE: dict[tuple[int, float], psutil.Process] = {}
_SNAPSHOT_CACHE_MAX = 64
_SNAPSHOT_LOCK = threading.Lock()


def snapshot(ident: ProcessIdentity) -> ProcessSnapshot | None:
    """One look at the process and its tree, or None if it is gone or not the same process.

    The psutil handle is cached per identity, so ``cpu_percent`` covers the interval since
    the previous snapshot instead of reading 0.0 every time.
    """
    key = (ident.pid, ident.create_time)
    with _SNAPSHOT_LOCK:
        cached = _SNAPSHOT_CACHE.get(key)
    proc = _verified(ident)
    if proc is None:
        _forget(key)
        return None
    proc = cached or proc
    try:
        with proc.oneshot():
            status = proc.status()
            cpu = proc.cpu_percent(None)
            rss = proc.memory_info().rss
        children = tuple(sorted(c.pid for c in proc.children(recursive=True)))
    except _GONE:
        _forget(key)
        return None
    with _SNAPSHOT_LOCK:
        if key not in _SNAPSHOT_CACHE and len(_SNAPSHOT_CACHE) >= _SNAPSHOT_CACHE_MAX:
            del _SNAPSHOT_CACHE[next(iter(_SNAPSHOT_CACHE))]
        _SNAPSHOT_CACHE[key] = proc
    uptime = max(0.0, time.time() - ident.create_time)
    return ProcessSnapshot(ident, status, cpu, rss, children, uptime)


def _forget(key: tuple[int, float]) -> None:
    with _SNAPSHOT_LOCK:
        _SNAPSHOT_CACHE.pop(key, None)


# --------------------------------------------------------------------------- matching


def argv_matches(actual: Sequence[str], wanted: Sequence[str]) -> bool:
    """Exact argv match, except that the interpreter may differ in path and version.

    ``python3 main.py`` matches ``/srv/remi/.venv/bin/python main.py``; ``python other.py``
    and ``node main.py`` do not.
    """
    if not wanted or len(actual) != len(wanted):
        return False
    return list(actual[1:]) == list(wanted[1:]) and _program(actual[0]) == _program(wanted[0])


def _program(argv0: str) -> str:
    return Path(argv0).name.lower().rstrip("0123456789.") or argv0


def find_target_processes(target: TargetSettings) -> list[ProcessIdentity]:
    """Every live instance of the target's command in the target's workdir, oldest first.

    More than one is a duplicate the caller must report. A match descended from another
    match (a forked worker with the same argv) belongs to that instance, not a duplicate.
    """
    workdir = _resolved(target.workdir)
    found: list[ProcessIdentity] = []
    parents: dict[int, int] = {}
    # cmdline and ppid first for every process (cheap); cwd, status and create_time only for
    # the few whose argv matches — this scan runs on every check
    for proc in psutil.process_iter(["pid", "ppid", "cmdline"], ad_value=None):
        info: dict[str, Any] = proc.info
        parents[info["pid"]] = info["ppid"] or 0
        cmdline = info["cmdline"]
        if info["pid"] == os.getpid() or not cmdline or not argv_matches(cmdline,
                                                                        target.command):
            continue
        try:
            with proc.oneshot():
                status, cwd, created = proc.status(), proc.cwd(), proc.create_time()
        except psutil.Error:
            continue
        if status == psutil.STATUS_ZOMBIE or not cwd or _resolved(Path(cwd)) != workdir:
            continue
        found.append(ProcessIdentity(info["pid"], created, tuple(cmdline), cwd))
    pids = {i.pid for i in found}
    roots = [i for i in found if not _descends_from(i.pid, pids, parents)]
    return sorted(roots, key=lambda i: i.create_time)


def _descends_from(pid: int, ancestors: set[int], parents: Mapping[int, int]) -> bool:
    seen = {pid}
    parent = parents.get(pid, 0)
    while parent > 1 and parent not in seen:
        if parent in ancestors:
            return True
        seen.add(parent)
        parent = parents.get(parent, 0)
    return False


def _resolved(path: Path) -> Path:
    try:
        return path.expanduser().resolve()
    except OSError:
        return path


# --------------------------------------------------------------------------- pidfile


def pidfile_path(state_dir: Path, target_name: str) -> Path:
    return state_dir / "pids" / f"{target_name}.json"


def write_pidfile(path: Path, ident: ProcessIdentity) -> None:
    """Record what we started, atomically; only ever a hint for the next watcher."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"pid": ident.pid, "create_time": ident.create_time, "cmdline": list(ident.cmdline)}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(path)


def read_pidfile(path: Path) -> ProcessIdentity | None:
    """The process the pidfile names, only if it is still that very process.

    A missing, garbage or stale pidfile is not an error: it is logged at debug and ignored.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        hint = ProcessIdentity(int(data["pid"]), float(data["create_time"]),
                               tuple(str(a) for a in data["cmdline"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.debug("ignoring unreadable pidfile %s: %s", path, exc)
        return None
    if hint.pid <= 0 or not same_process(hint):
        log.debug("ignoring stale pidfile %s (pid %s)", path, hint.pid)
        return None
    return identify(hint.pid)


def clear_pidfile(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


# --------------------------------------------------------------------------- spawn


def spawn(target: TargetSettings, extra_env: Mapping[str, str] | None = None) -> ProcessIdentity:
    """Start the target detached: own session, argv (no shell), logs appended.

    Raises :class:`SpawnError` with a clear detail for a missing workdir or a command
    that is not found or not executable.
    """
    argv = list(target.command)
    if not argv:
        raise SpawnError(target.name, "no command configured")
    workdir = target.workdir
    if not workdir.is_dir():
        what = "is not a directory" if workdir.exists() else "does not exist"
        raise SpawnError(target.name, f"workdir {workdir} {what}")
    env = {**os.environ, **target.env, **(extra_env or {})}
    _check_executable(target.name, argv[0], workdir, env)
    with _open_append(target, target.stdout_log) as out, \
            _open_append(target, target.stderr_log) as err:
        try:
            popen = subprocess.Popen(argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=err, start_new_session=True)
        except OSError as exc:
            raise SpawnError(target.name, f"command {argv[0]!r} could not be started "
                                          f"({exc.strerror or exc})") from exc
    ident = _identity_of_child(target.name, popen, argv)
    _CHILDREN.add(ident, popen)
    log.info("%s: started pid %s: %s", target.name, ident.pid, " ".join(argv))
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


def _identity_of_child(name: str, popen: subprocess.Popen[bytes],
                       argv: Sequence[str]) -> ProcessIdentity:
    """Our child's identity even if it already exited (it stays a zombie until reaped)."""
    try:
        proc = psutil.Process(popen.pid)
        create_time = proc.create_time()
    except _GONE as exc:  # reaped behind our back (a waitpid(-1) elsewhere)
        popen.poll()
        raise SpawnError(name, f"pid {popen.pid} vanished right after start") from exc
    try:
        cmdline = tuple(proc.cmdline()) or tuple(argv)
    except _GONE:
        cmdline = tuple(argv)
    return ProcessIdentity(popen.pid, create_time, cmdline, _cwd_of(proc))


# --------------------------------------------------------------------------- stop


@dataclass(frozen=True, slots=True)
class _Member:
    proc: psutil.Process
    popen: subprocess.Popen[bytes] | None = None  # set for our own child: reap through it


def stop(ident: ProcessIdentity, grace_s: float, *, target_name: str = "") -> StopResult:
    """Stop the process and its whole tree: SIGCONT, SIGTERM, grace, SIGKILL, verify.

    The tree is collected before the first signal (children reparent when their parent
    dies). Raises :class:`StopError` listing survivors, :class:`ProcessError` when a
    signal is not permitted.
    """
    started = time.monotonic()
    label = target_name or f"pid {ident.pid}"
    popen = _CHILDREN.get(ident)
    members = [m for m in _collect_tree(ident, popen) if not _is_gone(m)]  # reaps ours
    if not members:
        return StopResult(False, False, (), time.monotonic() - started)
    _signal_all(members, signal.SIGCONT, ident, label)
    _signal_all(members, signal.SIGTERM, ident, label)
    alive = _wait_gone(members, grace_s)
    killed = bool(alive)
    if alive:
        log.warning("%s: %d process(es) ignored SIGTERM for %.1fs; sending SIGKILL",
                    label, len(alive), grace_s)
        _signal_all(alive, signal.SIGKILL, ident, label)
        alive = _wait_gone(alive, KILL_WAIT_S)
    if alive:
        pids = tuple(m.proc.pid for m in alive)
        raise StopError(label, f"still running after SIGKILL: pids {list(pids)}", pids)
    return StopResult(True, killed, (), time.monotonic() - started)


def _collect_tree(ident: ProcessIdentity,
                  popen: subprocess.Popen[bytes] | None) -> list[_Member]:
    """The process, its descendants and its group/session members (if it leads one)."""
    members: dict[int, _Member] = {}
    root = _verified(ident)
    leads = popen is not None  # spawned with start_new_session: it leads its session
    if root is not None:
        members[root.pid] = _Member(root, popen)
        with contextlib.suppress(*_GONE):
            members.update((c.pid, _Member(c)) for c in root.children(recursive=True))
        leads = leads or _leads_group(ident.pid)
    if leads:  # a live group/session id cannot be reused as a pid, so these are its own
        for pid in _group_members(ident.pid):
            with contextlib.suppress(*_GONE):
                members.setdefault(pid, _Member(psutil.Process(pid)))
    protected = _protected_pids()
    if root is None:  # that pid now belongs to another process (or a zombie): leave it
        protected.add(ident.pid)
    return [m for pid, m in members.items() if pid not in protected]


def _leads_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid or os.getsid(pid) == pid
    except OSError:
        return False


def _group_members(leader: int) -> list[int]:
    found = []
    for pid in psutil.pids():
        try:
            if os.getpgid(pid) == leader or os.getsid(pid) == leader:
                found.append(pid)
        except OSError:
            continue
    return found


def _protected_pids() -> set[int]:
    """Ourselves and our ancestors: never part of a tree we stop."""
    protected = {0, 1, os.getpid()}
    with contextlib.suppress(*_GONE):
        protected.update(p.pid for p in psutil.Process().parents())
    return protected


def _signal_all(members: Iterable[_Member], sig: signal.Signals,
                root: ProcessIdentity, label: str) -> None:
    for member in members:
        _send_checked(member.proc, sig, root, label)


def _send_checked(proc: psutil.Process, sig: signal.Signals,
                  root: ProcessIdentity, label: str) -> bool:
    """Signal one verified process; False if it is gone or no longer the same process.

    The root is re-identified by pid+create_time+cmdline immediately before; psutil
    re-checks pid+create_time for every other member.
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


def _wait_gone(members: Sequence[_Member], timeout_s: float) -> list[_Member]:
    """Poll until every member is gone (zombies count as gone); return the rest."""
    deadline = time.monotonic() + timeout_s
    alive = [m for m in members if not _is_gone(m)]
    while alive and time.monotonic() < deadline:
        time.sleep(POLL_S)
        alive = [m for m in alive if not _is_gone(m)]
    return alive


def _is_gone(member: _Member) -> bool:
    """Our own child is reaped through its Popen (keeping its exit status); others by psutil."""
    if member.popen is not None:
        return member.popen.poll() is not None
    proc = member.proc
    if not proc.is_running():
        return True
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except _GONE:
        return True


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
    return ExitInfo(ident.pid, None, None, clock.now())


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


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except _GONE:
        return True


# --------------------------------------------------------------------------- dumps


def send_dump_signal(ident: ProcessIdentity, *, assume_handler: bool = False) -> bool:
    """Ask the target for a stack dump with SIGUSR1 (the beacon's faulthandler hook).

    SIGUSR1's default action is to terminate, so it is sent only to the very process we
    identified and only when that process is known to handle it (Linux ``SigCgt``);
    ``assume_handler`` sends it where that cannot be read. False when nothing was sent.
    """
    proc = _verified(ident)
    if proc is None:
        return False
    handled = _catches_signal(ident.pid, signal.SIGUSR1)
    if not (handled or (handled is None and assume_handler)):
        log.debug("pid %s does not handle SIGUSR1; no dump requested", ident.pid)
        return False
    return _send_checked(proc, signal.SIGUSR1, ident, f"pid {ident.pid}")


def _catches_signal(pid: int, sig: signal.Signals) -> bool | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (sig - 1)))
    return None


# --------------------------------------------------------------------------- managers


class ProcessManager(Protocol):
    """How a target is found, started, stopped and watched; the supervisor's only handle.

    Implementations: :class:`DirectManager` here, ``SystemdManager`` and ``LaunchdManager``
    in :mod:`remi_ops.host.services`. Every method blocks; callers run them in a thread.
    """

    target: TargetSettings

    def find(self) -> list[ProcessIdentity]:
        """The running target processes, the one to adopt first; 2+ is a duplicate."""
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

    def snapshot(self, ident: ProcessIdentity) -> ProcessSnapshot | None:
        """One look at the process, None if it is gone."""
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


class BaseManager:
    """What every manager does the same way: look at, wait on and ask a known process."""

    target: TargetSettings
    clock: Clock

    def snapshot(self, ident: ProcessIdentity) -> ProcessSnapshot | None:
        return snapshot(ident)

    def wait_exit(self, ident: ProcessIdentity, timeout: float | None,
                  cancel: threading.Event | None = None) -> ExitInfo | None:
        return wait_exit(ident, timeout, cancel=cancel, clock=self.clock)

    def request_dump(self, ident: ProcessIdentity) -> bool:
        return send_dump_signal(ident)

    def py_spy_dump(self, ident: ProcessIdentity) -> str | None:
        return py_spy_dump(ident.pid, timeout_s=PY_SPY_TIMEOUT_S) if same_process(ident) \
            else None

    def run_command(self, argv: Sequence[str], *, cwd: Path | None,
                    env: Mapping[str, str] | None, timeout_s: float,
                    max_output_bytes: int = MAX_OUTPUT_BYTES) -> CommandResult:
        return run_command(argv, cwd=cwd, env=env, timeout_s=timeout_s,
                           max_output_bytes=max_output_bytes)


class DirectManager(BaseManager):
    """Remi as our own child (or adopted): spawn, pidfile hint, tree stop."""

    def __init__(self, target: TargetSettings, state_dir: Path, *,
                 extra_env: Mapping[str, str] | None = None, clock: Clock | None = None) -> None:
        self.target = target
        self.pidfile = pidfile_path(state_dir, target.name)
        self.clock = clock or _SYSTEM_CLOCK
        self._extra_env = dict(extra_env or {})

    def find(self) -> list[ProcessIdentity]:
        """The pidfile's process first (if it is still that process), then matches by age."""
        hinted = read_pidfile(self.pidfile)
        found = find_target_processes(self.target)
        if hinted is None:
            return found
        return [hinted, *(i for i in found if i.pid != hinted.pid)]

    def start(self) -> ProcessIdentity:
        running = self.find()
        if running:
            log.info("%s: already running as pid %s; not starting another",
                     self.target.name, running[0].pid)
            return running[0]
        ident = spawn(self.target, self._extra_env)
        write_pidfile(self.pidfile, ident)
        return ident

    def stop(self, ident: ProcessIdentity | None, grace_s: float) -> StopResult:
        """Stop ``ident``, or every running copy when None (the target should run once)."""
        idents = [ident] if ident is not None else self.find()
        results = [stop(i, grace_s, target_name=self.target.name) for i in idents]
        if read_pidfile(self.pidfile) is None:
            clear_pidfile(self.pidfile)
        return StopResult(stopped=any(r.stopped for r in results),
                          killed=any(r.killed for r in results), survivors=(),
                          duration_s=sum(r.duration_s for r in results))

    def restart(self, ident: ProcessIdentity | None, grace_s: float) -> ProcessIdentity:
        """Stop, then start; if another copy still runs it is returned, not duplicated."""
        self.stop(ident, grace_s)
        return self.start()


def make_manager(target: TargetSettings, state_dir: Path, *,
                 clock: Clock | None = None) -> ProcessManager:
    """The manager the target's configuration names."""
    if target.manager == "process":
        # the beacon inside Remi finds its file here; the watcher reads it back
        beacon_env = {"REMI_BEACON_FILE": str(target.beacon_file)}
        return DirectManager(target, state_dir, extra_env=beacon_env, clock=clock)
    from remi_ops.host import services as managers  # noqa: PLC0415 - managers builds on this module

    if target.manager == "systemd":
        return managers.SystemdManager(target, clock=clock)
    return managers.LaunchdManager(target, clock=clock)


def on_stop_signals(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Call ``callback`` on SIGINT/SIGTERM (the watcher's clean shutdown)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, callback)
