"""Operator requests from the CLI to a running watcher, through a spool directory.

Only one process supervises a target (the singleton lock), so ``remi-ops restart`` while
``remi-ops watch`` or Bubabot runs must *ask* that watcher rather than act behind its back.
A request is a JSON file renamed into place; the answer comes back the same way, carrying
the verb's value as JSON (``value``) or what went wrong (``error``, and ``usage`` when the
request itself was at fault).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remi_ops.atomicfile import write_json_atomically

#: the runbook verbs a running watcher carries out for the command line
ACTIONS = frozenset({"health", "start", "stop", "restart", "scan_test", "maintenance",
                     "end_maintenance", "silence", "ack", "resolve"})


@dataclass(frozen=True, slots=True)
class Request:
    id: str
    target: str
    action: str
    args: dict[str, Any]
    who: str


def spool(state_dir: Path) -> Path:
    return state_dir / "requests"


def submit(state_dir: Path, target: str, action: str, args: dict[str, Any], who: str) -> str:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    request_id = uuid.uuid4().hex[:12]
    write_json_atomically(spool(state_dir) / f"{request_id}.request.json",
                          {"id": request_id, "target": target, "action": action, "args": args,
                           "who": who})
    return request_id


def take(state_dir: Path) -> list[Request]:
    """Claim every pending request (oldest first); garbled files are answered with an error."""
    taken: list[Request] = []
    folder = spool(state_dir)
    if not folder.is_dir():
        return taken
    for path in sorted(folder.glob("*.request.json"), key=_mtime):
        claimed = path.with_suffix(".taken")
        try:
            path.rename(claimed)
            doc = json.loads(claimed.read_text(encoding="utf-8"))
            taken.append(Request(str(doc["id"]), str(doc["target"]), str(doc["action"]),
                                 dict(doc.get("args") or {}), str(doc.get("who", "cli"))))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            answer(state_dir, path.name.split(".")[0], ok=False, error=f"bad request: {exc}",
                   usage=True)
        finally:
            claimed.unlink(missing_ok=True)
    return taken


def answer(state_dir: Path, request_id: str, *, ok: bool, value: Any = None, error: str = "",
           usage: bool = False) -> None:
    """``value`` must already be JSON-able (``remi_ops.alerts.hub.jsonable``)."""
    write_json_atomically(spool(state_dir) / f"{request_id}.result.json",
                          {"id": request_id, "ok": ok, "value": value, "error": error,
                           "usage": usage})


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
