"""Operator requests from the CLI to a running watcher, through a spool directory.

Only one process supervises a target (the singleton lock), so ``remi-ops restart`` while
``remi-ops watch`` or Bubabot runs must *ask* that watcher rather than act behind its back.
A request is a JSON file renamed into place; the answer comes back the same way, carrying
the verb's value as JSON (``value``) or what went wrong (``error``, and ``usage`` when the
request itself was at fault).

Who asked is the file's owner, never what the file says: the watcher accepts requests
only from files its own user owns, in a directory nobody else can write (0700). The
``who`` a file states is kept as "stated" for the audit log. A request also names the
target's workdir, so a second deployment sharing ``state_dir`` and the target's name
cannot act on this one. A claimed request stays as ``<id>.taken`` until it is answered: a
watcher that dies in between leaves it for the next watcher (or the waiting command line)
to answer with what became of it.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remi_ops.atomicfile import write_json_atomically

#: the runbook verbs a running watcher carries out for the command line
ACTIONS = frozenset({"health", "start", "stop", "restart", "scan_test", "maintenance",
                     "end_maintenance", "silence", "ack", "resolve", "test_alert"})
TAKEN, SETTLED = ".taken", ".settled"


@dataclass(frozen=True, slots=True)
class Request:
    id: str
    target: str
    action: str
    args: dict[str, Any]
    who: str  # the file's owner, as history names a command-line person ("cli:ana")
    stated_who: str = ""  # what the file claimed; recorded, never trusted
    workdir: str = ""  # the target's workdir in the asker's configuration
    refusal: str = ""  # why it must not be carried out ("" when it may)
    orphan: bool = False  # claimed by a watcher that died before answering


def spool(state_dir: Path) -> Path:
    return state_dir / "requests"


def ensure_spool(state_dir: Path) -> Path:
    """The spool directory, created private (0700) when it is new."""
    folder = spool(state_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def submit(state_dir: Path, target: str, action: str, args: dict[str, Any], who: str, *,
           workdir: str = "") -> str:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    request_id = uuid.uuid4().hex[:12]
    write_json_atomically(ensure_spool(state_dir) / f"{request_id}.request.json",
                          {"id": request_id, "target": target, "action": action, "args": args,
                           "who": who, "workdir": workdir})
    return request_id


def person(uid: int) -> str:
    """A uid as history names a command-line person."""
    try:
        return "cli:" + pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"cli:uid {uid}"


def unsafe_folder(folder: Path, uid: int) -> str:
    """Why requests in ``folder`` cannot be trusted, or "" (ours, and only we can write)."""
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode):
        return f"the spool {folder} is not a directory"
    if info.st_uid != uid:
        return (f"the spool {folder} belongs to {person(info.st_uid)[4:]}, not to the "
                f"watcher's user {person(uid)[4:]}")
    if info.st_mode & 0o022:
        return (f"the spool {folder} is writable by others (mode "
                f"{stat.S_IMODE(info.st_mode):o}); run chmod 700 {folder}")
    return ""


def take(state_dir: Path, uid: int | None = None) -> list[Request]:
    """Claim every pending request (oldest first), and every request a dead watcher claimed
    (``orphan``). Garbled files are answered with an error; a request from a file the
    watcher's user (``uid``, default: this process's) does not own, or from a spool others
    can write, comes back with its ``refusal``."""
    taken: list[Request] = []
    folder = spool(state_dir)
    if not folder.is_dir():
        return taken
    uid = os.geteuid() if uid is None else uid
    folder_problem = unsafe_folder(folder, uid)
    orphans = sorted(folder.glob(f"*{TAKEN}"), key=_mtime)
    for path in orphans:
        request_id = path.name.split(".")[0]
        if _claim(path, path.with_suffix(SETTLED)):
            taken.append(Request(request_id, "", "", {}, "", orphan=True))
    for path in sorted(folder.glob("*.request.json"), key=_mtime):
        request_id = path.name.split(".")[0]
        claimed = folder / f"{request_id}{TAKEN}"
        if not _claim(path, claimed):
            continue
        try:
            taken.append(_read(claimed, uid, folder_problem))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            answer(state_dir, request_id, ok=False, error=f"bad request: {exc}", usage=True)
    return taken


def _claim(path: Path, to: Path) -> bool:
    try:
        path.rename(to)
    except FileNotFoundError:
        return False  # withdrawn, or claimed by someone else first
    return True


def _read(claimed: Path, uid: int, folder_problem: str) -> Request:
    info = claimed.lstat()
    owner = person(info.st_uid)
    refusal = folder_problem
    if not stat.S_ISREG(info.st_mode):
        refusal = f"the request {claimed.name} is not a regular file"
    elif info.st_uid != uid and not refusal:
        refusal = (f"the request file belongs to {owner[4:]}, not to the watcher's user "
                   f"{person(uid)[4:]}; only that user may ask this watcher")
    doc: dict[str, Any] = {"target": "", "action": ""}
    if stat.S_ISREG(info.st_mode):
        doc = json.loads(claimed.read_text(encoding="utf-8"))
    return Request(claimed.name.split(".")[0], str(doc["target"]), str(doc["action"]),
                   dict(doc.get("args") or {}), owner, str(doc.get("who", "")),
                   str(doc.get("workdir") or ""), refusal)


def answer(state_dir: Path, request_id: str, *, ok: bool, value: Any = None, error: str = "",
           usage: bool = False) -> None:
    """``value`` must already be JSON-able (``remi_ops.alerts.hub.jsonable``); the claim
    (``.taken``) goes once the answer is there."""
    folder = spool(state_dir)
    write_json_atomically(folder / f"{request_id}.result.json",
                          {"id": request_id, "ok": ok, "value": value, "error": error,
                           "usage": usage})
    for suffix in (TAKEN, SETTLED):
        (folder / f"{request_id}{suffix}").unlink(missing_ok=True)


def read_answer(state_dir: Path, request_id: str) -> dict[str, Any] | None:
    """The answer if it is there (and consumed), else None; never waits (the command line
    polls it, and looks at the lock in between)."""
    path = spool(state_dir) / f"{request_id}.result.json"
    if not path.exists():
        return None
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        doc = {"ok": False, "error": "unreadable answer"}
    path.unlink(missing_ok=True)
    return doc


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def withdraw(state_dir: Path, request_id: str) -> bool:
    """Take back a request nobody claimed yet (True), so no later watcher carries it out
    long after the person gave up waiting; False when a watcher has already claimed it."""
    try:
        (spool(state_dir) / f"{request_id}.request.json").unlink()
    except FileNotFoundError:
        return False
    return True


def claim_orphan(state_dir: Path, request_id: str) -> bool:
    """The waiting command line takes over a request whose watcher died after claiming it
    (True), so that it and a new watcher do not both answer it."""
    folder = spool(state_dir)
    return _claim(folder / f"{request_id}{TAKEN}", folder / f"{request_id}{SETTLED}")


def forget(state_dir: Path, request_id: str) -> None:
    """Drop what is left of a request the command line answered for itself."""
    (spool(state_dir) / f"{request_id}{SETTLED}").unlink(missing_ok=True)
