"""The per-spawn marker: every process Bubabot starts carries ``REMI_OPS_SPAWN=<id>``.

A Remi may change its title, re-exec itself, fork helpers that ``setsid`` away from its
tree, or fork a copy of itself with the very same argv. None of that changes the
environment a process inherited, so the marker is how the seam tells *what we started*
(and everything it left behind) from a look-alike: the spawned process itself is known
by pid + create time + marker, and after a stop every process still carrying the
marker is an escaped child, swept and reported. Reading another process's environment
works for our own user (and for root), which is exactly whom we may signal anyway.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection

import psutil

from remi_ops.domain import ProcessIdentity
from remi_ops.host.identity import GONE, cwd_of

log = logging.getLogger(__name__)

#: the environment variable holding the marker of the spawn a process descends from
SPAWN_ENV = "REMI_OPS_SPAWN"


def new_spawn_id() -> str:
    """A fresh marker for one spawn: unguessable, so no stranger carries it by chance."""
    return uuid.uuid4().hex


def spawn_id_of(pid: int) -> str | None:
    """The marker ``pid`` carries: "" when it carries none, None when it cannot be read."""
    try:
        return psutil.Process(pid).environ().get(SPAWN_ENV, "")
    except (*GONE, OSError):
        return None


def carriers(spawn_ids: Collection[str], *, exclude: Collection[int] = (),
             born_since: float | None = None) -> list[ProcessIdentity]:
    """Every live process carrying one of ``spawn_ids`` (oldest first), except ``exclude``.

    ``born_since`` (epoch s, the oldest of those spawns' start): a process started before
    it cannot descend from them, so its environment is not read. Reading every process's
    environment is what a sweep costs (O(processes)); the start time is known already.
    """
    wanted = {s for s in spawn_ids if s}
    if not wanted:
        return []
    found: list[ProcessIdentity] = []
    for proc in psutil.process_iter(["pid", "create_time"]):
        if proc.pid in exclude or _older(proc, born_since):
            continue
        try:
            with proc.oneshot():
                mark = proc.environ().get(SPAWN_ENV, "")
                if mark not in wanted or proc.status() == psutil.STATUS_ZOMBIE:
                    continue
                ident = ProcessIdentity(proc.pid, proc.create_time(), tuple(proc.cmdline()),
                                        cwd_of(proc), mark)
        except (*GONE, OSError):
            continue
        found.append(ident)
    return sorted(found, key=lambda i: i.create_time)


#: create times are rounded by the kernel's clock ticks; a child never looks older by more
BIRTH_SLACK_S = 1.0


def _older(proc: psutil.Process, born_since: float | None) -> bool:
    if born_since is None:
        return False
    created = proc.info.get("create_time")
    return created is not None and created < born_since - BIRTH_SLACK_S
