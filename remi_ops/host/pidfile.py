"""The pidfile: what a watcher started, so the next watcher knows it by pid + create time.

Written at every spawn, atomically, with the spawn's marker and the target's workdir and
command. It is only ever a hint, and a hint that names anything other than this
target's Remi is set aside with a warning instead of being believed: a forged or
stale pidfile must never lead a ``stop`` to a stranger, and a pidfile another
deployment wrote into a shared ``state_dir`` must never lead staging to prod's Remi.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from pathlib import Path

from remi_ops.atomicfile import write_atomically
from remi_ops.config import TargetSettings
from remi_ops.digests import sha256
from remi_ops.domain import ProcessIdentity
from remi_ops.host.adoption import not_target_reason
from remi_ops.host.identity import identify, is_alive
from remi_ops.host.proctable import resolved
from remi_ops.host.spawnmark import spawn_id_of

log = logging.getLogger(__name__)

_WARNED: set[tuple[str, int, float]] = set()
_WARNED_LOCK = threading.Lock()


def pidfile_path(state_dir: Path, target_name: str, target: TargetSettings | None = None) -> Path:
    """Where the hint lives; with ``target``, named after its workdir + command too, so
    staging and prod sharing a ``state_dir`` and a name never overwrite each other's."""
    if target is None:
        return state_dir / "pids" / f"{target_name}.json"
    digest = sha256(target.instance_key().encode("utf-8", "surrogateescape"))
    return state_dir / "pids" / f"{target_name}-{digest.hexdigest()[:12]}.json"


def write_pidfile(path: Path, ident: ProcessIdentity, target: TargetSettings) -> None:
    """Record what we started, atomically, with its marker and the target it was for."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"pid": ident.pid, "create_time": ident.create_time,
            "cmdline": list(ident.cmdline), "cwd": ident.cwd, "spawn_id": ident.spawn_id,
            "workdir": str(resolved(target.workdir)), "command": list(target.command)}
    write_atomically(path, json.dumps(data))  # mkstemp: a planted temp name is never followed


def read_pidfile(path: Path, target: TargetSettings) -> ProcessIdentity | None:
    """The process the pidfile names, only if it is still that process *and* it is ours.

    Ours means: the spawn we recorded (same pid + create time, still carrying our
    marker; its title may have changed), or a process that is this target by argv,
    workdir and user. A missing, garbage or stale pidfile is ignored (debug); one naming
    another workdir or another program is set aside with a warning.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        hint = ProcessIdentity(int(data["pid"]), float(data["create_time"]),
                               tuple(str(a) for a in data["cmdline"]),
                               str(data["cwd"]) if data.get("cwd") else None,
                               str(data.get("spawn_id") or ""))
        workdir = str(data.get("workdir") or "")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.debug("ignoring unreadable pidfile %s: %s", path, exc)
        return None
    if hint.pid <= 0 or not is_alive(hint):
        log.debug("ignoring stale pidfile %s (pid %s)", path, hint.pid)
        return None
    if workdir and Path(workdir) != resolved(target.workdir):
        _set_aside(path, hint, f"it was written for workdir {workdir}, not this target's "
                               f"{target.workdir}")
        return None
    if hint.spawn_id and spawn_id_of(hint.pid) == hint.spawn_id:
        return hint  # the process we spawned, whatever it calls itself now
    current = identify(hint.pid)
    reason = "it is gone" if current is None else not_target_reason(current, target)
    if reason:
        _set_aside(path, hint, reason)
        return None
    return current


def _set_aside(path: Path, hint: ProcessIdentity, reason: str) -> None:
    """Warn once per pidfile and process: a check every few seconds must not flood the log."""
    key = (str(path), hint.pid, hint.create_time)
    with _WARNED_LOCK:
        if key in _WARNED:
            return
        _WARNED.add(key)
    log.warning("pidfile %s names pid %s, which is not this target's Remi (%s): "
                "set aside, that process will not be adopted or signalled",
                path, hint.pid, reason)


def recorded_spawn_id(path: Path, target: TargetSettings) -> str:
    """The marker of the last spawn the pidfile records for this target ("" if none).

    Read even when that process is gone: its escaped children still carry the marker.
    """
    data = _raw(path)
    if data is None or not _for_target(data, target):
        return ""
    return str(data.get("spawn_id") or "")


def clear_pidfile(path: Path, target: TargetSettings | None = None) -> None:
    """Remove the pidfile; with ``target``, only one written for that target's workdir."""
    if target is not None:
        data = _raw(path)
        if data is not None and not _for_target(data, target):
            return  # another deployment's hint in a shared state_dir: not ours to remove
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):  # no file: nothing to do
        path.unlink()


def _raw(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _for_target(data: dict[str, object], target: TargetSettings) -> bool:
    workdir = data.get("workdir")
    return not workdir or Path(str(workdir)) == resolved(target.workdir)
