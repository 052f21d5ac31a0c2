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
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import psutil

from remi_ops.config import TargetSettings
from remi_ops.domain import ProcessIdentity
from remi_ops.host.identity import GONE, is_alive
from remi_ops.host.proctable import (
    ProcessTable,
    argv_key,
    resolved,
    resolved_workdir,
    shared_table,
)

log = logging.getLogger(__name__)


def argv_matches(actual: Sequence[str], wanted: Sequence[str]) -> bool:
    """Exact argv match, except that the interpreter may differ in path and version.

    ``python3 main.py`` matches ``/srv/remi/.venv/bin/python main.py``; ``python other.py``
    and ``node main.py`` do not.
    """
    if not wanted or len(actual) != len(wanted):
        return False
    return argv_key(actual) == argv_key(wanted)


def find_target_processes(target: TargetSettings, *, shared: bool = False,
                          besides: Collection[int] = ()) -> list[ProcessIdentity]:
    """Every live instance of the target's command in the target's workdir, oldest first.

    More than one is a duplicate the caller must report. A match descended from another
    match (a forked worker with the same argv) belongs to that instance, not a duplicate.
    ``besides``: pids the caller knows already (its own Remi), left out.

    ``shared``: answer from the process table this round's checks share (at most
    :data:`~remi_ops.host.proctable.MAX_AGE_S` old), for *reporting* duplicates only; each
    copy it names is re-checked (pid and start time) so one that ended since the table was
    taken is not reported. Without it (adoption, verbs, starts, stops) a fresh pass.
    """
    table = shared_table() if shared else ProcessTable.take()
    uid = expected_uid(target)
    workdir = resolved_workdir(target.workdir) if shared else resolved(target.workdir)
    found = [m.ident for m in table.matches(target.command, workdir)
             if m.uid == uid]
    pids = {i.pid for i in found}
    roots = [i for i in found if not _descends_from(i.pid, pids, table.parents)
             and i.pid not in besides]
    if shared:
        roots = [i for i in roots if is_alive(i)]
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
