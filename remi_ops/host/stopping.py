"""Stopping a process and its whole tree: SIGCONT, SIGTERM, grace, SIGKILL, verify.

A stop takes the whole tree (children, grandchildren, the session the bot leads),
collected before the first signal because children reparent when their parent dies.
It never takes the watcher or its ancestors, and it verifies that nothing survives.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psutil

from remi_ops.domain import ProcessIdentity
from remi_ops.exceptions import StopError
from remi_ops.host.identity import GONE, verified
from remi_ops.host.lifecycle import POLL_S, own_child
from remi_ops.host.signals import send_verified

log = logging.getLogger(__name__)

#: how long to wait for the tree to disappear after SIGKILL before declaring survivors
KILL_WAIT_S = 5.0


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
    #: escaped children of a Remi we started (carrying its spawn marker), stopped after it
    swept: tuple[int, ...] = ()


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
    popen = own_child(ident)
    members = [m for m in _collect_tree(ident, popen) if not _is_gone(m)]  # reaps ours
    if not members:
        return StopResult(False, False, (), time.monotonic() - started)
    _signal_all(members, signal.SIGCONT, ident, label)
    _signal_all(members, signal.SIGTERM, ident, label)
    alive = _wait_gone(members, grace_s)
    killed = bool(alive)
    if alive:
        log.warning("%d process(es) of pid %s ignored SIGTERM for %.1fs; sending SIGKILL",
                    len(alive), ident.pid, grace_s,
                    extra={"target": target_name} if target_name else None)
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
    root = verified(ident)
    leads = popen is not None  # spawned with start_new_session: it leads its session
    if root is not None:
        members[root.pid] = _Member(root, popen)
        with contextlib.suppress(*GONE):
            members.update((c.pid, _Member(c)) for c in root.children(recursive=True))
        leads = leads or _leads_group(ident.pid)
    if leads:  # a live group/session id cannot be reused as a pid, so these are its own
        for pid in _group_members(ident.pid):
            with contextlib.suppress(*GONE):
                members.setdefault(pid, _Member(psutil.Process(pid)))
    protected = protected_pids()
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


def protected_pids() -> set[int]:
    """Ourselves and our ancestors: never part of a tree we stop."""
    protected = {0, 1, os.getpid()}
    with contextlib.suppress(*GONE):
        protected.update(p.pid for p in psutil.Process().parents())
    return protected


def _signal_all(members: Iterable[_Member], sig: signal.Signals,
                root: ProcessIdentity, label: str) -> None:
    for member in members:
        send_verified(member.proc, sig, root, label)


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
    except GONE:
        return True
