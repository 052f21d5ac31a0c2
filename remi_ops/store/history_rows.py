"""What happened, as rows: incidents, supervisor transitions, restarts, scans and the audit.

Part of :class:`~remi_ops.store.database.Store`; every call is one short transaction or
read on the shared connection.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from remi_ops.domain import RestartReport, ScanResult, Severity
from remi_ops.store.connection import StoreConnection
from remi_ops.store.event_journal_rows import JournalEntry, journal_tx
from remi_ops.store.records import (
    AuditEntry,
    HistoryItem,
    Incident,
    Transition,
    audit_from_row,
    encode_json,
    encode_time,
    history_of_action,
    history_of_incident,
    history_of_restart,
    incident_from_row,
    restart_from_row,
    scan_from_row,
    transition_from_row,
)

#: the audited actions that belong in ``history`` (restarts are there as restarts)
HISTORY_ACTIONS = ("stop", "start", "maintenance", "end_maintenance")


class HistoryRows(StoreConnection):
    """The ``incidents``, ``transitions``, ``restarts``, ``scans`` and ``audit`` tables."""

    # ------------------------------------------------------------------ incidents

    def open_incident(self, target: str, title: str, severity: Severity, summary: str = "",
                      at: datetime | None = None) -> Incident:
        """Start an incident, or return the one already open for ``target``."""
        with self.transaction() as tx:
            row = tx.execute("SELECT * FROM incidents WHERE target = ? AND closed_at IS NULL "
                             "ORDER BY id DESC LIMIT 1", (target,)).fetchone()
            if row is None:
                new_id = tx.execute(
                    "INSERT INTO incidents (target, opened_at, title, severity, summary) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (target, self._at(at), title, severity.value, summary)).lastrowid
                row = tx.execute("SELECT * FROM incidents WHERE id = ?", (new_id,)).fetchone()
        return incident_from_row(row)

    def close_incident(self, incident_id: int, summary: str | None = None,
                       at: datetime | None = None) -> Incident | None:
        """Close an open incident; ``None`` if there is no such incident."""
        with self.transaction() as tx:
            tx.execute("UPDATE incidents SET closed_at = coalesce(closed_at, ?), "
                       "summary = coalesce(?, summary) WHERE id = ?",
                       (self._at(at), summary, incident_id))
            row = tx.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return None if row is None else incident_from_row(row)

    def incidents(self, since: datetime, target: str | None = None) -> list[Incident]:
        """Incidents open at any moment after ``since``, newest first."""
        rows = self.query("SELECT * FROM incidents WHERE (closed_at IS NULL OR closed_at >= ?) "
                          "AND (? IS NULL OR target = ?) ORDER BY opened_at DESC, id DESC",
                          (encode_time(since), target, target))
        return [incident_from_row(r) for r in rows]

    # ------------------------------------------------------------------ transitions, restarts

    def record_transition(self, target: str, at: datetime | None, from_state: str,
                          to_state: str, reason: str) -> None:
        """Keep one supervisor state change (``at=None`` means now)."""
        with self.transaction() as tx:
            record_transition_tx(tx, target, self._at(at), from_state, to_state=to_state,
                                 reason=reason)

    def transitions(self, target: str, since: datetime) -> list[Transition]:
        rows = self.query("SELECT * FROM transitions WHERE target = ? AND at >= ? "
                          "ORDER BY at, id", (target, encode_time(since)))
        return [transition_from_row(r) for r in rows]

    def record_restart(self, report: RestartReport) -> int:
        with self.transaction() as tx:
            return record_restart_tx(tx, report)

    def restarts(self, target: str, since: datetime) -> list[RestartReport]:
        """Restarts of ``target`` since ``since``, newest first."""
        rows = self.query("SELECT * FROM restarts WHERE target = ? AND at >= ? "
                          "ORDER BY at DESC, id DESC", (target, encode_time(since)))
        return [restart_from_row(r) for r in rows]

    def data_version(self) -> int:
        """A number that changes when another connection (another process: a ``remi-ops``
        verb run without the watcher) commits to the database; this connection's own
        writes leave it alone (SQLite's ``PRAGMA data_version``). A cache of what this
        process wrote itself asks it instead of re-reading the rows."""
        return int(self.query("PRAGMA data_version")[0][0])

    def count_restarts(self, target: str, since: datetime) -> int:
        rows = self.query("SELECT count(*) FROM restarts WHERE target = ? AND at >= ?",
                          (target, encode_time(since)))
        return int(rows[0][0])

    # ------------------------------------------------------------------ scans

    def record_scan(self, result: ScanResult) -> int:
        return self._write(
            "INSERT INTO scans (target, started_at, outcome, duration_s, exit_code, output, "
            "reason, fingerprint, over_budget, commit_sha) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (result.target, encode_time(result.started_at), result.outcome.value,
             result.duration_s, result.exit_code, result.output, result.reason,
             result.fingerprint, int(result.over_budget), result.commit))

    def last_scan(self, target: str) -> ScanResult | None:
        rows = self.query("SELECT * FROM scans WHERE target = ? ORDER BY started_at DESC, "
                          "id DESC LIMIT 1", (target,))
        return scan_from_row(rows[0]) if rows else None

    def scans(self, target: str, since: datetime) -> list[ScanResult]:
        """Scan tests since ``since``, newest first."""
        rows = self.query("SELECT * FROM scans WHERE target = ? AND started_at >= ? "
                          "ORDER BY started_at DESC, id DESC", (target, encode_time(since)))
        return [scan_from_row(r) for r in rows]

    # ------------------------------------------------------------------ audit

    def audit(self, actor: str, action: str, target: str, *, arguments: Mapping[str, Any],
              result: str, ok: bool, duration_s: float, at: datetime | None = None,
              state: str = "done", request_id: str = "") -> int:
        """Record who did what; ``arguments`` must already be redacted."""
        return self._write(
            "INSERT INTO audit (at, actor, action, target, arguments, result, ok, duration_s, "
            "state, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self._at(at), actor, action, target, encode_json(dict(arguments)), result,
             int(ok), duration_s, state, request_id))

    def audit_requested(self, actor: str, action: str, target: str, *,
                        arguments: Mapping[str, Any], request_id: str = "") -> int:
        """The first half of "audit first": the row exists before the action runs, so a
        crash or a failed reply afterwards cannot lose who asked for what."""
        return self.audit(actor, action, target, arguments=arguments, result="requested",
                          ok=False, duration_s=0.0, state="requested", request_id=request_id)

    def audit_completed(self, audit_id: int, *, result: str, ok: bool, duration_s: float,
                        state: str = "", announce: Sequence[JournalEntry] = ()) -> None:
        """The second half: how the requested action ended (``state`` done/failed), and
        the event announcing it (``announce``), in one transaction."""
        with self.transaction() as tx:
            tx.execute("UPDATE audit SET result = ?, ok = ?, duration_s = ?, state = ? "
                       "WHERE id = ?", (result, int(ok), duration_s,
                                        state or ("done" if ok else "failed"), audit_id))
            journal_tx(tx, announce)

    def audit_annotate(self, audit_ids: Sequence[int], *, arguments: Mapping[str, Any],
                       result: str) -> None:
        """Put the words a person was shown (and how they asked, ``via``) on audit rows
        written first; their state and outcome stay as the action left them."""
        with self.transaction() as tx:
            for audit_id in audit_ids:
                row = tx.execute("SELECT arguments FROM audit WHERE id = ?",
                                 (audit_id,)).fetchone()
                if row is not None:
                    merged = {**json.loads(row["arguments"]), **arguments}
                    tx.execute("UPDATE audit SET arguments = ?, result = ? WHERE id = ?",
                               (encode_json(merged), result, audit_id))

    def audit_of_request(self, request_id: str) -> AuditEntry | None:
        """The audit row of a command-line spool request (how a crashed watcher's request
        ended, told to the person still waiting)."""
        rows = self.query("SELECT * FROM audit WHERE request_id = ? ORDER BY id DESC LIMIT 1",
                          (request_id,))
        return audit_from_row(rows[0]) if rows else None

    def audit_log(self, since: datetime | None = None, limit: int = 100) -> list[AuditEntry]:
        """Audit entries since ``since``, newest first."""
        rows = self.query("SELECT * FROM audit WHERE at >= ? ORDER BY at DESC, id DESC LIMIT ?",
                          (encode_time(since) if since else "", limit))
        return [audit_from_row(r) for r in rows]

    # ------------------------------------------------------------------ history

    def history(self, since: datetime, target: str | None = None) -> list[HistoryItem]:
        """Incidents, restarts and people's stops, starts and maintenance since ``since``
        on one timeline, newest first (a restart is in ``restarts`` already)."""
        items = [history_of_incident(i) for i in self.incidents(since, target)]
        rows = self.query("SELECT * FROM restarts WHERE at >= ? AND (? IS NULL OR target = ?)",
                          (encode_time(since), target, target))
        items += [history_of_restart(restart_from_row(r)) for r in rows]
        marks = ", ".join("?" for _ in HISTORY_ACTIONS)
        rows = self.query(f"SELECT * FROM audit WHERE at >= ? AND (? IS NULL OR target = ?) "  # noqa: S608 - placeholders only
                          f"AND state IN ('done', 'failed') AND action IN ({marks})",
                          (encode_time(since), target, target, *HISTORY_ACTIONS))
        items += [history_of_action(audit_from_row(r)) for r in rows]
        return sorted(items, key=lambda item: item.at, reverse=True)


def record_transition_tx(tx: sqlite3.Connection, target: str, at: str, from_state: str, *,
                         to_state: str, reason: str) -> None:
    """``record_transition`` inside a transaction the caller already holds."""
    tx.execute("INSERT INTO transitions (target, at, from_state, to_state, reason) "
               "VALUES (?, ?, ?, ?, ?)", (target, at, from_state, to_state, reason))


def record_restart_tx(tx: sqlite3.Connection, report: RestartReport) -> int:
    """``record_restart`` inside a transaction the caller already holds."""
    return tx.execute(
        "INSERT INTO restarts (target, at, reason, trigger, requested_by, ok, duration_s, "
        "old_pid, new_pid, detail, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (report.target, encode_time(report.at), report.reason, report.trigger,
         report.requested_by, int(report.ok), report.duration_s, report.old_pid,
         report.new_pid, report.detail, report.evidence)).lastrowid or 0
