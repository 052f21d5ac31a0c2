"""Plain-text rendering of the engine's values: the one renderer for the console, the
``.bot_alert`` file and the command line (Bubabot renders the same values as embeds).

Pure functions of values; no Discord markup here.
"""

from __future__ import annotations

from remi_ops.domain import RestartReport, ScanResult


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


def restart_summary(report: RestartReport) -> str:
    if report.ok and report.trigger == "start":
        return (f"started ({report.trigger}, by {report.requested_by}): {report.reason} — "
                f"pid {report.new_pid} in {report.duration_s:.1f}s")
    if report.ok:
        return (f"restarted ({report.trigger}, by {report.requested_by}): {report.reason} — "
                f"pid {report.old_pid or '-'} → {report.new_pid} in {report.duration_s:.1f}s")
    return f"restart FAILED ({report.trigger}): {report.reason}: {report.detail}"

