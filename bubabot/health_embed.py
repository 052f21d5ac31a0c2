"""/remi-health as an embed: the same truth as ``remi-ops health``.

The supervisor's state in words (stopped, maintenance until when, gave up, a workdir that
is gone), the restarts within the crash budget's window with the crashes among them, and no
gateway named for a process that is not running. Limits and helpers come from
``bubabot.render``.
"""

from __future__ import annotations

from datetime import datetime

import discord

from bubabot.render import (
    DESC_MAX,
    STATUS_COLOUR,
    STATUS_ICON,
    TITLE_MAX,
    EmbedBudget,
    clip,
    clock_time,
    code_block,
    scan_line,
    when,
)
from remi_ops.domain import HealthReport, ScanResult
from remi_ops.durations import format_duration
from remi_ops.watch.results import RestartTally


def health_embed(report: HealthReport, *, last_scan: ScanResult | None = None,
                 bubabot_lag_s: float | None = None, state_reason: str = "",
                 restarts: RestartTally | None = None,
                 maintenance_until: datetime | None = None) -> discord.Embed:
    """/remi-health: the same truth as ``remi-ops health`` (state in words, restarts with
    the crashes among them), and no gateway named for a process that is not running."""
    icon = STATUS_ICON[report.status]
    embed = discord.Embed(title=clip(f"{icon} {report.target}: {report.status}", TITLE_MAX),
                          colour=STATUS_COLOUR[report.status], timestamp=report.checked_at)
    lines = [f"• {r}" for r in report.reasons] or ["All checks pass."]
    embed.description = clip("\n".join(lines), DESC_MAX)
    budget = EmbedBudget(embed)
    budget.field("Supervisor", supervisor_text(report.supervisor_state, state_reason,
                                               maintenance_until), inline=False)
    proc = report.process
    if proc:
        budget.field("Process", f"pid {proc.identity.pid} · up {format_duration(proc.uptime_s)}\n"
                     f"CPU {proc.cpu_percent:.0f}% · RSS {proc.rss_bytes / 2**20:.0f} MB",
                     inline=True)
    loop = ("no beacon" if report.loop_lag_s is None
            else f"lag {report.loop_lag_s * 1000:.0f} ms")
    budget.field("Event loop", loop, inline=True)
    # a gateway state read from the logs of a process that is gone is not news
    budget.field("Gateway", (report.gateway or "unknown") if proc else "– (not running)",
                 inline=True)
    name, value = restarts_field(report, restarts)
    budget.field(name, value, inline=True)
    if last_scan is not None:
        budget.field("Last /scan test", scan_line(last_scan), inline=True)
    if bubabot_lag_s is not None:
        budget.field("Bubabot loop lag", f"{bubabot_lag_s * 1000:.0f} ms", inline=True)
    for finding in report.findings:
        if finding.evidence:
            budget.field(f"Evidence: {finding.check}", code_block(finding.evidence))
            break
    return embed


#: the supervisor's states that need explaining, in a runbook reader's words
STATE_WORDS = {
    "stopped": "⏹️ Stopped on purpose: nothing restarts it until someone starts it.",
    "maintenance": "🛠️ In maintenance: no restarts and no alerts for it.",
    "gave_up": "🆘 Gave up restarting it: a person must look (it retries only slowly).",
    "backoff": "⏳ Not running: waiting before the next start attempt.",
    "restarting": "🔄 Being restarted now.",
    "starting": "🚀 Starting.",
    "unknown": "❔ Not looked at yet.",
}
#: the words a spawn refusal uses for a missing workdir (``exceptions.WorkdirMissing``)
WORKDIR_MISSING = ("workdir does not exist", "workdir is not a directory")


def supervisor_text(state: str, reason: str, maintenance_until: datetime | None) -> str:
    """The state in words, then why (who stopped it, until when, what failed)."""
    words = STATE_WORDS.get(state, state)
    if state == "maintenance" and maintenance_until is not None:
        words = (f"🛠️ In maintenance until {clock_time(maintenance_until)} "
                 f"({when(maintenance_until)}): no restarts and no alerts for it.")
    if any(phrase in reason for phrase in WORKDIR_MISSING):
        words = ("📁 Cannot start: its workdir is missing; restarting cannot fix that, "
                 "a person must.")
    why = discord.utils.escape_markdown(reason) if reason else ""
    return clip(f"{words}\n{why}" if why else words, 400)


def restarts_field(report: HealthReport, tally: RestartTally | None) -> tuple[str, str]:
    """``Restarts (15 min)``: ``3 (1 crash)``, as ``remi-ops health`` counts them."""
    if tally is None or not tally.window_s:
        return "Restarts (15 min)", str(report.restarts_recent)
    crashes = f"{tally.crashes} crash" + ("" if tally.crashes == 1 else "es")
    return (f"Restarts ({tally.window_s / 60:.0f} min)",
            f"{tally.total} ({crashes})" if tally.total else "0")
