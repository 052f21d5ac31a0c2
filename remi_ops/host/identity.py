"""Who a pid is: identify a process, check it is still the same one, look at it.

The old runbook restarted Remi with ``pkill -f "python.*main.py"``. Here a process is
known by its identity (pid + create_time + cmdline), and that identity is re-checked
immediately before every signal, so a PID reused by another program is never touched.
A process we spawned ourselves (``spawn_id`` set) is known by pid + create_time alone:
pid and start time together name one process for good, and that process may rewrite
its title or re-exec itself with another argv and still be the one we started.
Every other module of the seam asks this one "is it still that process?".
"""

from __future__ import annotations

import contextlib
import threading
import time

import psutil

from remi_ops.domain import ProcessIdentity, ProcessSnapshot
from remi_ops.host.proctable import shared_table

#: psutil derives create_time from the boot time, which moves when the wall clock is
#: stepped; a reused PID also needs the same cmdline to pass, so a second is safe.
CREATE_TIME_TOLERANCE_S = 1.0
#: what psutil raises for a process that is gone or not ours to read
#: (ZombieProcess is a NoSuchProcess)
GONE = (psutil.NoSuchProcess, psutil.AccessDenied)


def identify(pid: int) -> ProcessIdentity | None:
    """The identity of a live process, or None if it is gone, a zombie or not readable."""
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            create_time = proc.create_time()
            cmdline = tuple(proc.cmdline())
        return ProcessIdentity(pid, create_time, cmdline, cwd_of(proc))
    except GONE:
        return None


def cwd_of(proc: psutil.Process) -> str | None:
    """The working directory, or None when it cannot be read (gone, or not ours)."""
    try:
        return proc.cwd()
    except GONE:
        return None


def same_identity(a: ProcessIdentity, b: ProcessIdentity) -> bool:
    """Two identities name the same process (an empty cmdline matches any, and the
    cmdline of a process both know as the same spawn is not part of its identity)."""
    return (a.pid == b.pid and _same_start(a.create_time, b.create_time)
            and ((bool(a.spawn_id) and a.spawn_id == b.spawn_id) or not a.cmdline
                 or not b.cmdline or a.cmdline == b.cmdline))


def _same_start(a: float, b: float) -> bool:
    return abs(a - b) <= CREATE_TIME_TOLERANCE_S


def verified(ident: ProcessIdentity) -> psutil.Process | None:
    """A psutil handle on ``ident`` if it is still that very process (zombies count)."""
    try:
        proc = psutil.Process(ident.pid)
        if not _same_start(proc.create_time(), ident.create_time):
            return None
        if ident.spawn_id:  # ours: pid + start time say it all, whatever its title now
            return proc
        with contextlib.suppress(psutil.ZombieProcess):
            cmdline = tuple(proc.cmdline())
            if cmdline and ident.cmdline and cmdline != ident.cmdline:
                return None
        return proc
    except GONE:
        return None


def same_process(ident: ProcessIdentity) -> bool:
    """True if ``ident.pid`` is still the process we identified (not a reused PID).

    A zombie of that process still counts: signalling it is harmless.
    """
    return verified(ident) is not None


def is_alive(ident: ProcessIdentity) -> bool:
    """True if the very process we identified is still running (not a zombie).

    One psutil handle answers both questions (its start time, then its state).
    """
    proc = verified(ident)
    try:
        return proc is not None and proc.status() != psutil.STATUS_ZOMBIE
    except GONE:
        return False


def is_zombie(pid: int) -> bool:
    """True for a zombie, and for a pid that is gone or unreadable (nothing runs there)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except GONE:
        return True


# --------------------------------------------------------------------------- snapshot


_SNAPSHOT_CACHE: dict[tuple[int, float], psutil.Process] = {}
_SNAPSHOT_CACHE_MAX = 64
_SNAPSHOT_LOCK = threading.Lock()


def snapshot(ident: ProcessIdentity, *, shared: bool = False) -> ProcessSnapshot | None:
    """One look at the process and its tree, or None if it is gone or not the same process.

    The psutil handle is cached per identity, so ``cpu_percent`` covers the interval since
    the previous snapshot instead of reading 0.0 every time. ``shared``: the children come
    from the process table this round's checks share (a pass over every process a few
    times an interval, not once per target; one taken after the process started); they
    are only reported, never signalled.
    """
    key = (ident.pid, ident.create_time)
    with _SNAPSHOT_LOCK:
        cached = _SNAPSHOT_CACHE.get(key)
    proc = verified(ident)
    if proc is None:
        _forget(key)
        return None
    proc = cached or proc
    try:
        with proc.oneshot():
            status = proc.status()
            cpu = proc.cpu_percent(None)
            rss = proc.memory_info().rss
        children = (shared_table(since=ident.create_time).descendants(ident.pid) if shared
                    else tuple(sorted(c.pid for c in proc.children(recursive=True))))
    except GONE:
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
