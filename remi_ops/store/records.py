"""Frozen rows the store hands out, and the conversions between them and SQLite.

Kept apart from ``store`` so the connection handling there stays readable; nothing here
touches a connection.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from remi_ops.domain import (
    ErrorGroup,
    LogKind,
    RestartReport,
    ScanOutcome,
    ScanResult,
    Severity,
    Trigger,
)
from remi_ops.logs.redact import redact_patterns

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def encode_time(at: datetime) -> str:
    """Fixed-width UTC text: sorts like the instant it names, reads well in the shell."""
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: the store only keeps aware UTC times")
    return at.astimezone(UTC).strftime(_TIME_FORMAT)


def decode_time(text: str) -> datetime:
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


def maybe_time(text: str | None) -> datetime | None:
    return None if text is None else decode_time(text)


def encode_json(value: Any) -> str:
    """Compact JSON; unknown objects (paths, enums) become their ``str`` rather than failing."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


@dataclass(frozen=True, slots=True)
class Incident:
    """One period during which a target needed attention."""

    id: int
    target: str
    opened_at: datetime
    closed_at: datetime | None
    title: str
    severity: Severity
    summary: str

    @property
    def duration_s(self) -> float | None:
        """How long it lasted; ``None`` while it is still open."""
        if self.closed_at is None:
            return None
        return (self.closed_at - self.opened_at).total_seconds()


@dataclass(frozen=True, slots=True)
class Transition:
    """One supervisor state change, kept so "what happened overnight" has an answer."""

    target: str
    at: datetime
    from_state: str
    to_state: str
    reason: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what, with which arguments, how it went and how long it took."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    arguments: dict[str, Any]
    result: str
    ok: bool
    duration_s: float
    #: "requested" until the action returned, then "done", "failed" or "refused"
    state: str = "done"
    request_id: str = ""  # the command line's spool request it answers, if any


class HistoryKind(StrEnum):
    """What a line of ``remi-ops history`` / ``/remi-history`` is."""

    INCIDENT = "incident"
    RESTART = "restart"
    ACTION = "action"  # a person's stop, start or maintenance (from the audit log)


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """An incident or a restart, merged into one timeline (newest first): the value itself,
    for renderers to put in words (``remi_ops.alerts.text``, Bubabot's embeds)."""

    at: datetime
    target: str
    kind: HistoryKind
    duration_s: float | None
    ok: bool  # an incident: closed; a restart: it worked
    incident: Incident | None = None
    restart: RestartReport | None = None
    action: AuditEntry | None = None


@dataclass(frozen=True, slots=True)
class StoreRecovery:
    """A corrupt database was set aside and a fresh one opened; say so to a person."""

    original: Path
    set_aside: Path
    reason: str

    @property
    def message(self) -> str:
        return (f"state database {self.original} was unreadable ({self.reason}); "
                f"it was moved to {self.set_aside} and a fresh one was started")


def incident_from_row(row: sqlite3.Row) -> Incident:
    return Incident(id=row["id"], target=row["target"], opened_at=decode_time(row["opened_at"]),
                    closed_at=maybe_time(row["closed_at"]), title=row["title"],
                    severity=Severity(row["severity"]), summary=row["summary"])


_TRIGGERS = {t.value: t for t in Trigger}


def restart_from_row(row: sqlite3.Row) -> RestartReport:
    trigger = _TRIGGERS.get(row["trigger"], Trigger.POLICY)  # an unknown word: say "policy"
    return RestartReport(target=row["target"], reason=row["reason"], trigger=trigger,
                         requested_by=row["requested_by"], ok=bool(row["ok"]),
                         at=decode_time(row["at"]), duration_s=row["duration_s"],
                         old_pid=row["old_pid"], new_pid=row["new_pid"], detail=row["detail"],
                         evidence=redact_patterns(row["evidence"]))


def group_from_row(row: sqlite3.Row) -> ErrorGroup:
    return ErrorGroup(fingerprint=row["fingerprint"], target=row["target"],
                      title=redact_patterns(row["title"]),
                      kind=LogKind(row["kind"]), count=row["count"],
                      first_seen=decode_time(row["first_seen"]),
                      last_seen=decode_time(row["last_seen"]),
                      sample=redact_patterns(row["sample"]),
                      culprit=row["culprit"], resolved_at=maybe_time(row["resolved_at"]))


def scan_from_row(row: sqlite3.Row) -> ScanResult:
    return ScanResult(target=row["target"], outcome=ScanOutcome(row["outcome"]),
                      started_at=decode_time(row["started_at"]), duration_s=row["duration_s"],
                      exit_code=row["exit_code"], output=redact_patterns(row["output"]),
                      reason=row["reason"],
                      fingerprint=row["fingerprint"], over_budget=bool(row["over_budget"]),
                      commit=row["commit_sha"])


def audit_from_row(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(id=row["id"], at=decode_time(row["at"]), actor=row["actor"],
                      action=row["action"], target=row["target"],
                      arguments=json.loads(row["arguments"]), result=row["result"],
                      ok=bool(row["ok"]), duration_s=row["duration_s"], state=row["state"],
                      request_id=row["request_id"])


def transition_from_row(row: sqlite3.Row) -> Transition:
    return Transition(target=row["target"], at=decode_time(row["at"]),
                      from_state=row["from_state"], to_state=row["to_state"],
                      reason=row["reason"])


def history_of_incident(incident: Incident) -> HistoryItem:
    return HistoryItem(at=incident.opened_at, target=incident.target, kind=HistoryKind.INCIDENT,
                       duration_s=incident.duration_s, ok=incident.closed_at is not None,
                       incident=incident)


def history_of_restart(report: RestartReport) -> HistoryItem:
    return HistoryItem(at=report.at, target=report.target, kind=HistoryKind.RESTART,
                       duration_s=report.duration_s, ok=report.ok, restart=report)


def history_of_action(entry: AuditEntry) -> HistoryItem:
    return HistoryItem(at=entry.at, target=entry.target, kind=HistoryKind.ACTION,
                       duration_s=entry.duration_s, ok=entry.ok, action=entry)
