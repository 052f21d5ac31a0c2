"""Logs Remi writes that nobody watches: what ``remi-ops doctor`` tells the operator.

A bot that logs the way discord.py's docs show (``log_handler=FileHandler('discord.log')``)
writes its errors to a file the watcher never reads unless the target lists it in
``logs``. The running process's open files (``host.open_logs``) say which it writes.
"""

from __future__ import annotations

import json
from pathlib import Path

from remi_ops import host
from remi_ops.config import TargetSettings
from remi_ops.exceptions import ProcessError
from remi_ops.watch.intake import log_streams


def unwatched_logs(target: TargetSettings, pid: int) -> list[Path]:
    """Log files process ``pid`` has open that are none of ``target``'s logs.

    Its stdout/stderr files count as watched whatever they are called now (a rotated
    ``bot_error.log.1`` is still the stderr log, followed across the rename).
    """
    watched = {_real(p) for p in log_streams(target).values()}
    watched |= {_real(p) for p in host.std_targets(pid).values()}
    return [p for p in host.open_logs(pid) if _real(p) not in watched]


def advice(target: TargetSettings, paths: list[Path]) -> str:
    """The line to add to the target's table so the watcher reads ``paths`` too."""
    listed = [_shown(target, p) for p in target.logs.files] + [_shown(target, p) for p in paths]
    return f"logs = {json.dumps(list(dict.fromkeys(listed)))}"


def doctor_lines(target: TargetSettings, state_dir: Path) -> list[str]:
    """What doctor says about one target's logs: nothing when every open log is watched."""
    try:
        running = host.make_manager(target, state_dir).find()
    except ProcessError:
        return []
    lines: list[str] = []
    for ident in running[:1]:
        missing = unwatched_logs(target, ident.pid)
        if missing:
            names = ", ".join(str(p) for p in missing)
            lines.append(f"{target.name}: pid {ident.pid} writes {names}, which is not "
                         f"watched: its errors are never seen. Add to [[targets]] "
                         f"{target.name!r}: {advice(target, missing)}")
    return lines


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path


def _shown(target: TargetSettings, path: Path) -> str:
    try:
        return str(path.relative_to(target.workdir))
    except ValueError:
        return str(path)
