"""Finding the running target to adopt: argv, workdir and user must all match.

A watcher that starts while Remi already runs adopts it instead of starting a second
copy. The target is found by its working directory *and* its argv *and* its user, so
the same command in another directory, or another user's process with Remi's argv in
Remi's workdir, is never matched (and so never signalled). The pidfile hint lives in
:mod:`~remi_ops.host.pidfile` and uses :func:`not_target_reason` from here.
"""

from __future__ import annotations

import logging
import os
import pwd
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from remi_ops.config import TargetSettings
from remi_ops.domain import ProcessIdentity
from remi_ops.host.identity import GONE

log = logging.getLogger(__name__)


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
    workdir = resolved(target.workdir)
    uid = expected_uid(target)
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
                owner = proc.uids().real
        except psutil.Error:
            continue
        if status == psutil.STATUS_ZOMBIE or not cwd or resolved(Path(cwd)) != workdir \
                or owner != uid:
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


def resolved(path: Path) -> Path:
    """``path`` with ``~`` and symlinks resolved (as given when that fails)."""
    try:
        return path.expanduser().resolve()
    except OSError:
        return path


def expected_uid(target: TargetSettings) -> int | None:
    """The user a Remi of ``target`` runs as: ``process_user``, else the watcher's own.

    None for a configured user the system does not know: then nothing matches.
    """
    if not target.process_user:
        return os.getuid()
    try:
        return pwd.getpwnam(target.process_user).pw_uid
    except KeyError:
        log.warning("process_user %r is not a user on this machine; no process will "
                    "be taken for the target", target.process_user,
                    extra={"target": target.name})
        return None


def not_target_reason(ident: ProcessIdentity, target: TargetSettings) -> str:
    """Why the live process ``ident`` is not this target ("" when it is): argv, cwd, user."""
    if not argv_matches(ident.cmdline, target.command):
        return f"its command is {' '.join(ident.cmdline)!r}, not the target's"
    cwd = ident.cwd
    if not cwd or resolved(Path(cwd)) != resolved(target.workdir):
        return f"it runs in {cwd or 'an unreadable directory'}, not in {target.workdir}"
    try:
        owner = psutil.Process(ident.pid).uids().real
    except GONE:
        return "its user cannot be read"
    if owner != expected_uid(target):
        return f"it runs as uid {owner}, not as the target's user"
    return ""
