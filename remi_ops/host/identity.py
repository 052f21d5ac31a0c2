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
from dataclasses import dataclass
from pathlib import Path

import psutil

from remi_ops.domain import ProcessIdentity, ProcessSnapshot
from remi_ops.host.proc_stat import TICKS, StatLine, read_stat
from remi_ops.host.proctable import shared_table
from remi_ops.host.shared_look import stat_in_look

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

    One psutil handle answers both questions (its start time, then its state): the
    handle kept for it (:func:`held`), so a check does not build one per question.
    """
    looked = _look(ident)
    if looked is None:
        return False
    kept, line = looked
    if line is not None:  # the stat line that verified it says its state too
        return line.state != "Z"
    try:
        return kept.proc.status() != psutil.STATUS_ZOMBIE
    except GONE:
        return False


def is_zombie(pid: int) -> bool:
    """True for a zombie, and for a pid that is gone or unreadable (nothing runs there)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except GONE:
        return True


# --------------------------------------------------------------------------- kept handles


#: one psutil handle per identity looked at (:func:`held`), so ``cpu_percent`` covers
#: the time since the last snapshot; bounded for identities never seen to end
_HANDLES: dict[tuple[int, float], _Kept] = {}
_HANDLES_MAX = 1024
_HANDLES_LOCK = threading.Lock()
_LINUX_PROC = Path("/proc/self/stat").exists()


@dataclass
class _Kept:
    """A handle kept for one identity, and what its last look saw."""

    proc: psutil.Process
    #: its start in clock ticks since boot (Linux: read around its verification)
    started: int | None = None
    #: CPU ticks used and ``time.monotonic()`` at the last snapshot read from ``stat``
    cpu_ticks: int | None = None
    cpu_at: float = 0.0

    def cpu_percent(self, cpu_ticks: int, now: float) -> float:
        """CPU % since the last look (0.0 the first time), as psutil's ``cpu_percent``."""
        last, at = self.cpu_ticks, self.cpu_at
        self.cpu_ticks, self.cpu_at = cpu_ticks, now
        if last is None or now <= at:
            return 0.0
        return round(100.0 * (cpu_ticks - last) / TICKS / (now - at), 1)


def held(ident: ProcessIdentity) -> psutil.Process | None:
    """A psutil handle on ``ident`` if it is still that very process (zombies count), as
    :func:`verified` — but kept per identity and checked again by one read of its start.

    A fresh ``psutil.Process`` reads the process's ``stat`` and the host's ``/proc/stat``
    (the boot time, a file the kernel builds from every CPU's and interrupt's counters)
    and builds an object: twice per check (the snapshot, our child's ``is_alive``), it
    was a fifth of an idle check. The first look verifies the identity as
    :func:`verified` does, between two reads of the process's start in clock ticks since
    boot (equal: the same process throughout); after that the pid's ``stat`` says
    whether the process there now started at that very tick — the test psutil's own
    identity makes, without the boot time (which moves when the wall clock is stepped).
    Only for a process we spawned (``spawn_id``): pid and start time name it for good.
    Another process's identity includes its argv, so it goes through :func:`verified`.
    """
    looked = _look(ident)
    return looked[0].proc if looked else None


def _look(ident: ProcessIdentity) -> tuple[_Kept, StatLine | None] | None:
    """The kept handle on ``ident`` and the ``stat`` line read to verify it (None when
    it was verified otherwise); None when it is not that process any more."""
    key = (ident.pid, ident.create_time)
    with _HANDLES_LOCK:
        kept = _HANDLES.get(key)
    if ident.spawn_id and _LINUX_PROC and kept is not None and kept.started is not None:
        line = stat_in_look(ident.pid)  # once per check's look (:mod:`shared_look`)
        if line is not None and line.started == kept.started:
            return kept, line
        _forget(key)
        return None
    fast = bool(ident.spawn_id) and _LINUX_PROC
    before = read_stat(ident.pid) if fast else None
    proc = verified(ident)
    if proc is None:
        return None
    after = read_stat(ident.pid) if before is not None else None
    same = after is not None and before is not None and after.started == before.started
    return _keep(key, proc, after.started if same and after else None), after if same else None


def _keep(key: tuple[int, float], proc: psutil.Process, started: int | None = None) -> _Kept:
    """Keep ``proc`` for ``key``; a handle kept already stays (its ``cpu_percent`` has a
    past), learning its start when this look read it."""
    with _HANDLES_LOCK:
        kept = _HANDLES.get(key)
        if kept is None:
            if len(_HANDLES) >= _HANDLES_MAX:
                del _HANDLES[next(iter(_HANDLES))]
            kept = _HANDLES[key] = _Kept(proc)
        if started is not None:
            kept.started = started
        return kept


# --------------------------------------------------------------------------- snapshot


def snapshot(ident: ProcessIdentity, *, shared: bool = False) -> ProcessSnapshot | None:
    """One look at the process and its tree, or None if it is gone or not the same process.

    The handle is kept per identity, so ``cpu_percent`` covers the interval since the
    previous snapshot instead of reading 0.0 every time; a process we spawned is looked
    at through the one ``stat`` line that verified it (state, CPU, memory:
    :mod:`~remi_ops.host.proc_stat`). ``shared``: the children come from the process
    table this round's checks share (a pass over every process a few times an interval,
    not once per target; one taken after the process started); they are only reported,
    never signalled.
    """
    key = (ident.pid, ident.create_time)
    looked = _look(ident)
    if looked is None:
        _forget(key)
        return None
    kept, line = looked
    proc = kept.proc
    try:
        if line is not None:
            status, rss = line.status, line.rss_bytes
            cpu = kept.cpu_percent(line.cpu_ticks, time.monotonic())
        else:
            with proc.oneshot():
                status = proc.status()
                cpu = proc.cpu_percent(None)
                rss = proc.memory_info().rss
        children = (shared_table(since=ident.create_time).descendants(ident.pid) if shared
                    else tuple(sorted(c.pid for c in proc.children(recursive=True))))
    except GONE:
        _forget(key)
        return None
    uptime = max(0.0, time.time() - ident.create_time)
    return ProcessSnapshot(ident, status, cpu, rss, children, uptime)


def _forget(key: tuple[int, float]) -> None:
    with _HANDLES_LOCK:
        _HANDLES.pop(key, None)
