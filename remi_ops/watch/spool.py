"""Operator requests from the CLI to a running watcher, through a spool directory.

Only one process supervises a target (the singleton lock), so ``remi-ops restart`` while
``remi-ops watch`` or Bubabot runs must *ask* that watcher rather than act behind its back.
A request is a JSON file renamed into place; the answer comes back the same way.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remi_ops.checks.healthfile import atomic_write_json

ACTIONS = frozenset({"start", "stop", "restart", "silence", "ack", "scan_test"})


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
    atomic_write_json(spool(state_dir) / f"{request_id}.request.json",
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
            answer(state_dir, path.name.split(".")[0], ok=False, message=f"bad request: {exc}")
        finally:
            claimed.unlink(missing_ok=True)
    return taken


def answer(state_dir: Path, request_id: str, *, ok: bool, message: str) -> None:
    atomic_write_json(spool(state_dir) / f"{request_id}.result.json",
                      {"id": request_id, "ok": ok, "message": message})


def wait_answer(state_dir: Path, request_id: str, timeout_s: float) -> dict[str, Any] | None:
    """Block (CLI only, no event loop) until the watcher answers, or None on timeout."""
    path = spool(state_dir) / f"{request_id}.result.json"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            try:
                doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                doc = {"ok": False, "message": "unreadable answer"}
            path.unlink(missing_ok=True)
            return doc
        time.sleep(0.1)
    return None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
