"""``.bot_health``: one JSON object, schema-versioned, replaced atomically.

Scripts from the old setup (``cat .bot_health``) keep working; the watcher's own heartbeat
is inside so a dead watcher is visible to whoever reads the file.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from remi_ops.atomicfile import write_json_atomically
from remi_ops.domain import Check, Finding, HealthReport, Severity, Status
from remi_ops.logs.redact import redact_patterns

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
    write_json_atomically(path, doc)


def report_from_dict(doc: dict[str, Any]) -> HealthReport:
    """The report a ``.bot_health`` document holds (``ValueError``/``KeyError`` if garbled).

    The process snapshot stays out: the file keeps only its summary, and a report read
    back is about the past anyway (a stale watcher's last word).
    """
    findings = tuple(Finding(_check(f["check"]), Status(f["status"]), str(f["summary"]),
                             Severity(f.get("severity", Severity.WARNING)),
                             redact_patterns(str(f.get("evidence", ""))))
                     for f in doc.get("findings", ()))
    return HealthReport(
        target=str(doc["target"]), status=Status(doc["status"]),
        checked_at=datetime.fromisoformat(str(doc["checked_at"])), findings=findings,
        supervisor_state=str(doc.get("supervisor_state", "")),
        loop_lag_s=doc.get("loop_lag_s"), beacon_age_s=doc.get("beacon_age_s"),
        gateway=str(doc.get("gateway", "")),
        new_groups=tuple(doc.get("new_error_groups", ())),
        restarts_recent=int(doc.get("restarts_recent", 0)))


def read_health_file(path: Path) -> dict[str, Any] | None:
    """The last written document, or None when missing or unreadable."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


_CHECKS = {c.value: c for c in Check}


def _check(name: object) -> Check:
    """A finding's check read back; an unknown name (an older file) reads as the watcher's."""
    return _CHECKS.get(str(name), Check.WATCHER)
