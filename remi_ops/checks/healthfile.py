"""``.bot_health``: one JSON object, schema-versioned, replaced atomically.

Scripts from the old setup (``cat .bot_health``) keep working; the watcher's own heartbeat
is inside so a dead watcher is visible to whoever reads the file.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from remi_ops.domain import HealthReport

SCHEMA = 1


def report_to_dict(report: HealthReport) -> dict[str, Any]:
    """A JSON-ready view of a report (also what ``remi-ops health --json`` prints)."""
    proc = report.process
    return {
        "target": report.target,
        "status": str(report.status),
        "healthy": report.healthy,
        "checked_at": report.checked_at.isoformat(),
        "supervisor_state": report.supervisor_state,
        "reasons": list(report.reasons),
        "findings": [{**asdict(f), "status": str(f.status), "severity": str(f.severity)}
                     for f in report.findings],
        "process": None if proc is None else {
            "pid": proc.identity.pid, "status": proc.status,
            "cpu_percent": round(proc.cpu_percent, 1), "rss_mb": round(proc.rss_bytes / 2**20, 1),
            "uptime_s": round(proc.uptime_s, 1), "children": list(proc.children)},
        "loop_lag_s": report.loop_lag_s,
        "beacon_age_s": report.beacon_age_s,
        "gateway": report.gateway,
        "new_error_groups": list(report.new_groups),
        "restarts_recent": report.restarts_recent,
    }


def write_health_file(path: Path, report: HealthReport, *, watcher_pid: int,
                      watcher_beat: datetime, check_interval_s: float) -> None:
    """Write the file atomically: temp file in the same directory, fsync, rename."""
    doc = {"schema": SCHEMA, **report_to_dict(report),
           "watcher": {"pid": watcher_pid, "heartbeat_at": watcher_beat.isoformat(),
                       "check_interval_s": check_interval_s}}
    atomic_write_json(path, doc)


def atomic_write_json(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_health_file(path: Path) -> dict[str, Any] | None:
    """The last written document, or None when missing or unreadable."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None
