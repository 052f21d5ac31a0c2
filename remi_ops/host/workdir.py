"""A target's workdir that is not there: how to say so, and the files never written into it.

A workdir renamed away or unmounted is a problem for a person: the watcher holds restarts
and pages (``Supervisor.workdir_gone``). It must never answer by creating the directory,
and the files it keeps beside Remi (``.bot_health``, ``.bot_alert``) live in the workdir
by default, so their writers ask :func:`skip_in_missing_workdir` first: a file whose
directory would be created inside a missing workdir is not written (said once per file,
and again after the workdir came back and went away again).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

log = logging.getLogger(__name__)

_SAID: set[Path] = set()
_SAID_LOCK = threading.Lock()


def workdir_problem(workdir: Path) -> str:
    """"workdir does not exist: <path>" (or "is not a directory"), "" when it is fine."""
    if workdir.is_dir():
        return ""
    what = "is not a directory" if workdir.exists() else "does not exist"
    return f"workdir {what}: {workdir}"


def skip_in_missing_workdir(path: Path, workdir: Path | None, target: str) -> bool:
    """True when ``path`` lies inside ``workdir`` and the workdir is missing: writing it
    would create the workdir. Logged once per file until the workdir is back."""
    if workdir is None or not path.is_relative_to(workdir):
        return False
    problem = workdir_problem(workdir)
    with _SAID_LOCK:
        if not problem:
            _SAID.discard(path)
            return False
        if path in _SAID:
            return True
        _SAID.add(path)
    log.warning("not writing %s: %s (the watcher never creates it)", path, problem,
                extra={"target": target})
    return True
