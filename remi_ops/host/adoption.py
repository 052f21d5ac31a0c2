"""Finding the running target to adopt: argv and workdir matching, the pidfile hint.

A watcher that starts while Remi already runs adopts it instead of starting a second
copy. The target is found by its working directory *and* its argv, so the same command
in another directory is never matched; the pidfile written at spawn is only a hint,
trusted when it still names that very process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from remi_ops.atomicfile import write_atomically
from remi_ops.config import TargetSettings
from remi_ops.domain import ProcessIdentity
from remi_ops.host.identity import identify, same_process

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
    write_atomically(path, json.dumps(data))  # mkstemp: a planted fixed-name temp is never followed


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
