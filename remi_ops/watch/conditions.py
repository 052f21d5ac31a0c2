"""What is true of a target right now, as alert conditions (the alert engine decides what
to send). Pure: a health report, this check's error groups and the supervisor's state in;
``Condition``s out. Decisions read typed fields, never words in a summary.
"""

from __future__ import annotations

from collections.abc import Iterable

from remi_ops.alerts.model import AlertKey, Condition
from remi_ops.domain import (
    AlertKind,
    Check,
    ErrorGroup,
    Finding,
    HealthReport,
    Severity,
    Status,
)

#: findings that make a target "unhealthy" without a kind of their own
UNHEALTHY_CHECKS = frozenset({Check.CPU, Check.RSS, Check.RATE_LIMIT, Check.ERROR_BURST,
                              Check.LATENCY})


def conditions_of(report: HealthReport, groups: Iterable[ErrorGroup], *,
                  gave_up: str | None) -> list[Condition]:
    """The report's findings as conditions; error groups seen in this check, with their
    running totals, so an announced group's message is edited with the new count;
    ``gave_up`` is the reason when the supervisor has given up, else None."""
    target = report.target
    found: list[Condition] = []
    for f in report.findings:
        kind = _kind_of(f.check, f.status)
        if kind is None or _planned(f):
            continue
        severity = _SEVERITY.get(kind, f.severity)
        details = {"evidence": f.evidence} if f.evidence else {}
        found.append(Condition(AlertKey(target, kind), severity, f.summary, details))
    for group in groups:
        found.append(Condition(
            AlertKey(target, AlertKind.ERROR_GROUP, group.fingerprint), Severity.WARNING,
            f"{group.title} ({group.culprit or group.kind})",
            {"count": group.count, "culprit": group.culprit,
             "first_seen": group.first_seen.isoformat(),
             "last_seen": group.last_seen.isoformat(), "evidence": group.sample}))
    if gave_up is not None:
        found.append(Condition(AlertKey(target, AlertKind.GAVE_UP), Severity.PAGE, gave_up))
    return found


#: kinds that speak at a fixed severity whatever the finding said
_SEVERITY = {AlertKind.DOWN: Severity.PAGE, AlertKind.FATAL_CONFIG: Severity.PAGE,
             AlertKind.DUPLICATE: Severity.PAGE, AlertKind.SCAN_TEST: Severity.WARNING}


def _planned(finding: Finding) -> bool:
    """Not running because someone meant it (a stop, maintenance, a restart): the report
    says so at INFO, and no "down" alert is raised for it."""
    return finding.check is Check.PROCESS and finding.severity is Severity.INFO


def _kind_of(check: Check, status: Status) -> AlertKind | None:
    """The alert a finding raises; new error groups are raised as groups, not findings."""
    if check is Check.PROCESS:
        return AlertKind.DOWN
    if check is Check.EVENT_LOOP:
        return AlertKind.HANG if status is Status.DOWN else AlertKind.UNHEALTHY
    if check is Check.CONFIG:
        return AlertKind.FATAL_CONFIG
    if check is Check.DUPLICATES:
        return AlertKind.DUPLICATE
    if check is Check.SCAN_TEST:
        return AlertKind.SCAN_TEST
    if check is Check.WATCHER:
        return AlertKind.WATCHER
    if check in UNHEALTHY_CHECKS:
        return AlertKind.UNHEALTHY
    return None
