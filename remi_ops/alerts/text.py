"""Plain-text rendering of the engine's values: the one renderer for the console, the
``.bot_alert`` file and the command line (Bubabot renders the same values as embeds).

Pure functions of values; no Discord markup here. Times are shown in UTC, durations with
``remi_ops.durations.format_duration``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from remi_ops.alerts.model import AlertLine, LineState, Notification, NotificationType, Silence
from remi_ops.domain import ErrorGroup, HealthReport, RestartReport, ScanResult, Severity, Trigger
from remi_ops.durations import format_duration
from remi_ops.store.records import HistoryItem
from remi_ops.watch.results import (
    AlertsView,
    ControlOutcome,
    ControlResult,
    HealthResult,
    MaintenanceResult,
    Resolution,
)

#: the ``.bot_alert`` / console level of each severity (the seed's words)
LEVELS = {Severity.INFO: "info", Severity.WARNING: "warning", Severity.PAGE: "critical"}
_OPEN = (LineState.FIRING, LineState.FLAPPING)


def utc(at: datetime | None) -> str:
    return "-" if at is None else f"{at:%Y-%m-%d %H:%M} UTC"


# ---------------------------------------------------------------------------- alerts

def alert_line(line: AlertLine) -> str:
    """``[FIRING] hang — event loop blocked for 850 s ×3 (acked by jordan)``."""
    parts = [f"[{line.state.value.upper()}] {line.key.kind}"]
    if line.key.fingerprint:
        parts.append(f"({line.key.fingerprint})")
    parts.append(f"— {line.summary}" if line.summary else "")
    if line.count > 1:
        parts.append(f"×{line.count}")
    if line.duration_s is not None:
        parts.append(f"after {format_duration(line.duration_s)}")
    if line.ack_by:
        parts.append(f"(acked by {line.ack_by})")
    return " ".join(p for p in parts if p)


def notification_title(kind: NotificationType, target: str, lines: Sequence[AlertLine],
                       downtime_s: float | None, flap_window_s: float) -> str:
    """A one-line headline; renderers may replace it, plain sinks print it as is."""
    kinds = ", ".join(dict.fromkeys(line.key.kind for line in lines))
    first = lines[0] if lines else None
    single = first.summary if first and first.summary else kinds
    if kind is NotificationType.RESOLVED:
        after = f" after {format_duration(downtime_s)}" if downtime_s is not None else ""
        return f"{target}: resolved{after} ({kinds})"
    if kind is NotificationType.FLAPPING:
        return (f"{target}: {kinds} flapping; quiet until stable for "
                f"{format_duration(flap_window_s)}")
    if kind is NotificationType.REPEAT:
        return f"{target}: still firing, not acknowledged ({kinds})"
    if kind is NotificationType.UPDATE:
        firing = sum(1 for line in lines if line.state in _OPEN)
        return f"{target}: {firing} firing, {len(lines) - firing} resolved ({kinds})"
    if len(lines) == 1:
        return f"{target}: {single}"
    noun = "events" if kind is NotificationType.EVENT else "alerts"
    return f"{target}: {len(lines)} {noun} ({kinds})"


def level(n: Notification) -> str:
    return "info" if n.type is NotificationType.RESOLVED else LEVELS[n.severity]


def alert_file_record(n: Notification) -> dict[str, Any]:
    """The ``.bot_alert`` JSON line: the seed's ts/target/level/message plus the structure."""
    return {"ts": n.created_at.isoformat(), "target": n.target, "level": level(n),
            "message": n.title, **{k: v for k, v in n.to_dict().items() if k != "title"}}


def console_line(n: Notification) -> str:
    """``2026-01-24 03:00:00Z CRITICAL [firing] remi: event loop blocked``; a message that
    gathers several alerts or events ("2 events (restart, scan_test)") lists each below it,
    since the console is all a headless watcher's operator reads."""
    stamp = n.created_at.strftime("%Y-%m-%d %H:%M:%SZ")
    head = f"{stamp} {LEVELS[n.severity].upper():8} [{n.type.value}] {n.title}"
    if len(n.lines) < 2:
        return head
    return "\n".join([head, *(f"    · {line}" for line in n.lines)])


def silence_text(silence: Silence) -> str:
    matchers = ",".join(f"{label}={glob}" for label, glob in silence.matchers)
    return (f"silenced {matchers} until {utc(silence.ends_at)} (id {silence.id}) by "
            f"{silence.created_by}: {silence.comment}")


def ack_text(lines: Sequence[AlertLine]) -> str:
    return "acknowledged: " + ", ".join(str(line.key) for line in lines)


def alerts_lines(view: AlertsView) -> list[str]:
    lines = [f"{line.alert_id[:12]}  {alert_line(line)}" for line in view.firing]
    lines += [f"silence {s.id[:12]}  {dict(s.matchers)} until {utc(s.ends_at)} by "
              f"{s.created_by}: {s.comment}" for s in view.silences]
    return lines or ["nothing firing, nothing silenced"]


# ---------------------------------------------------------------------------- runbook

def scan_summary(result: ScanResult, trigger: str) -> str:
    """One line a person reads in #quick-tasks after a restart or a fix."""
    parts = [f"/scan test {result.outcome} in {result.duration_s:.1f}s ({trigger})"]
    if result.commit:
        parts.append(f"at commit {result.commit}")
    if result.fingerprint:
        parts.append(f"error group {result.fingerprint}")
    if result.over_budget:
        parts.append("slower than its latency budget")
    line = ", ".join(parts)
    return f"{line}: {result.reason}" if result.reason and not result.ok else line


def scan_lines(result: ScanResult) -> list[str]:
    """The scan summary, and the (redacted) output when it did not pass."""
    lines = [f"{result.target}: {scan_summary(result, 'operator')}"]
    if result.output and not result.ok:
        lines.append(result.output)
    return lines


def restart_summary(report: RestartReport) -> str:
    if report.ok and (report.trigger is Trigger.START or report.old_pid is None):
        # nothing was running (a first start, a start after a stop): not a restart
        return (f"started ({report.trigger}, by {report.requested_by}): {report.reason} — "
                f"pid {report.new_pid} in {report.duration_s:.1f}s")
    if report.ok:
        return (f"restarted ({report.trigger}, by {report.requested_by}): {report.reason} — "
                f"pid {report.old_pid or '-'} → {report.new_pid} in {report.duration_s:.1f}s")
    return f"restart FAILED ({report.trigger}): {report.reason}: {report.detail}"


def restart_text(report: RestartReport) -> str:
    return f"{report.target}: {restart_summary(report)}"


_CONTROL = {
    ControlOutcome.STARTED: "started",
    ControlOutcome.ALREADY_RUNNING: "already running",
    ControlOutcome.START_FAILED: "start failed",
    ControlOutcome.STOPPED: "stopped; it stays down until started",
    ControlOutcome.WAS_NOT_RUNNING: "was not running; it stays down until started",
}


def control_text(result: ControlResult) -> str:
    pids = f" (pid {', '.join(map(str, result.pids))})" if result.pids else ""
    line = f"{result.target}: {_CONTROL[result.outcome]}{pids}"
    return f"{line} — {result.state}: {result.reason}" if not result.ok else line


def maintenance_text(result: MaintenanceResult) -> str:
    if result.until is None and not result.was_on:
        return (f"{result.target}: was not in maintenance; nothing changed ({result.state})")
    if result.until is None:
        return (f"{result.target}: maintenance ended; supervision is back on "
                f"({result.state})")
    return (f"{result.target}: in maintenance until {utc(result.until)}: no restarts, "
            "no alerts for it until then")


def health_lines(report: HealthReport, result: HealthResult | None = None) -> list[str]:
    """``remi: degraded`` and one indented line per reason."""
    lines = [f"{report.target}: {report.status}"]
    lines += [f"  - {reason}" for reason in report.reasons]
    if result is not None and report.supervisor_state:
        why = f" — {result.state_reason}" if result.state_reason else ""
        lines.append(f"  supervisor {report.supervisor_state}{why}")
    if result is not None and result.restarts.total:
        tally = result.restarts
        crashes = f"{tally.crashes} crash" + ("" if tally.crashes == 1 else "es")
        lines.append(f"  {tally.total} restart{'' if tally.total == 1 else 's'} ({crashes}) "
                     f"in the last {tally.window_s / 60:.0f} min")
    return lines


def error_group_line(group: ErrorGroup) -> str:
    fixed = f"  [fixed {utc(group.resolved_at)}]" if group.resolved_at else ""
    return (f"{group.fingerprint}  ×{group.count:<6} last {utc(group.last_seen)}  "
            f"{group.title}  ({group.culprit or group.kind}){fixed}")


def errors_lines(groups: Iterable[ErrorGroup]) -> list[str]:
    return [error_group_line(g) for g in groups] or ["no errors recorded"]


def resolution_text(resolution: Resolution) -> str:
    g = resolution.group
    return (f"{g.target}: error group {g.fingerprint} ({g.title}) marked fixed by "
            f"{resolution.by}; if it happens again it is reported as a regression")


#: how evidence names the call a hung loop was stuck in (``checks.stacks.readable_stack``)
BLOCKED_IN = "Blocked in "


def evidence_headline(evidence: str) -> str:
    """``Blocked in fetch_track_sync (soundcloud.py:42)``: the line of a restart's evidence
    a logbook shows; "" when the evidence names no blocking call."""
    for line in evidence.splitlines():
        if line.startswith(BLOCKED_IN):
            return line.strip()
    return ""


def history_title(item: HistoryItem) -> str:
    """``restart (hang): event loop blocked for 850s`` / ``stop by cli:alice: deploy`` /
    the incident's title."""
    if item.restart is not None:
        return f"restart ({item.restart.trigger}): {item.restart.reason}"
    if item.action is not None:
        entry = item.action
        why = str(entry.arguments.get("reason") or "")
        return f"{entry.action} by {entry.actor}" + (f": {why}" if why else "")
    return item.incident.title if item.incident is not None else str(item.kind)


def history_detail(item: HistoryItem) -> str:
    """Who restarted it, the pids and where a hung loop was blocked; what a person's
    action did; how an incident ended."""
    if item.restart is not None:
        r = item.restart
        pids = f"pid {r.new_pid}" if r.old_pid is None else f"pid {r.old_pid} → {r.new_pid}"
        blocked = evidence_headline(r.evidence)
        return f"by {r.requested_by}; {pids if r.ok else r.detail}" + (
            f"\n{blocked}" if blocked else "")
    if item.action is not None:
        return item.action.result
    return item.incident.summary if item.incident is not None else ""


def history_lines(items: Iterable[HistoryItem]) -> list[str]:
    """One line per entry; a restart's blocking call on an indented line under it."""
    lines = []
    for item in items:
        took = format_duration(item.duration_s) if item.duration_s is not None else "ongoing"
        lines.append(f"{item.at:%Y-%m-%d %H:%M:%S}  {item.target:<8} {item.kind:<9} "
                     f"{'ok ' if item.ok else 'BAD'} {took:>9}  {history_title(item)}")
        blocked = evidence_headline(item.restart.evidence) if item.restart else ""
        if blocked:
            lines.append(f"{'':>40}{blocked}")
    return lines or ["nothing happened"]


def history_evidence(items: Iterable[HistoryItem]) -> str:
    """Every restart's full evidence, newest first, for a ``.txt`` beside the logbook
    ("" when none has any)."""
    blocks = [f"=== {r.at:%Y-%m-%d %H:%M:%S} UTC  {r.target}: restart ({r.trigger}) by "
              f"{r.requested_by}: {r.reason}\n{r.evidence.rstrip()}\n"
              for r in (item.restart for item in items) if r is not None and r.evidence]
    return "\n".join(blocks)
