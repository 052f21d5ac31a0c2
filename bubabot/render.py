"""Pure presentation: domain values → Discord embeds and text, within Discord's limits.

Colours, emoji and truncation live here and nowhere else. Inputs are already redacted at
their source; long evidence goes out as a ``.txt`` attachment instead of being cut short.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import discord

from remi_ops.alerts import text as plain
from remi_ops.alerts.model import AlertLine, LineState, Notification, NotificationType, Silence
from remi_ops.alerts.text import alert_line
from remi_ops.checks.stacks import IN_APP_HEADER, excerpt
from remi_ops.domain import (
    ErrorGroup,
    RestartReport,
    ScanOutcome,
    ScanResult,
    Severity,
    Status,
)
from remi_ops.durations import format_duration
from remi_ops.store.records import HistoryItem, HistoryKind
from remi_ops.watch.results import MaintenanceResult, Resolution

TITLE_MAX, DESC_MAX, FIELD_NAME_MAX, FIELD_VALUE_MAX, FOOTER_MAX = 256, 4096, 256, 1024, 2048
FIELDS_MAX, EMBED_TOTAL_MAX, CONTENT_MAX = 25, 6000, 2000
ATTACH_OVER = 900  # evidence longer than this goes into a .txt attachment

STATUS_COLOUR = {Status.HEALTHY: 0x2ECC71, Status.DEGRADED: 0xF1C40F, Status.DOWN: 0xE74C3C}
SEVERITY_COLOUR = {Severity.INFO: 0x3498DB, Severity.WARNING: 0xF1C40F, Severity.PAGE: 0xE74C3C}
RESOLVED_COLOUR = 0x2ECC71
STATUS_ICON = {Status.HEALTHY: "🟢", Status.DEGRADED: "🟡", Status.DOWN: "🔴"}
SCAN_ICON = {ScanOutcome.PASSED: "✅", ScanOutcome.FAILED: "❌", ScanOutcome.TIMED_OUT: "⏱️",
             ScanOutcome.NOT_CONFIGURED: "➖"}


def clip(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, marking the cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def code_block(text: str, limit: int = FIELD_VALUE_MAX) -> str:
    """A code block that fits ``limit`` and cannot be broken out of (``` neutralised).

    Evidence built to lead with Remi's own frames (``checks.stacks.readable_stack``) keeps
    its head, so the blocking call is never the part cut off; any other long text (a raw
    traceback, command output) keeps its end, where the exception is.
    """
    body = text.replace("```", "`\u200b``")
    room = limit - 8
    if len(body) > room:
        if IN_APP_HEADER in body[:200]:
            body = excerpt(body, room)
        else:
            body = "…" + body[-(room - 1):]
    return f"```\n{body}\n```"


def when(at: datetime | None) -> str:
    """A Discord timestamp that each reader sees in their own time zone ("in 2 hours")."""
    return "–" if at is None else f"<t:{int(at.timestamp())}:R>"


def clock_time(at: datetime) -> str:
    """A Discord timestamp shown as the reader's local time of day ("16:20")."""
    return f"<t:{int(at.timestamp())}:t>"


class EmbedBudget:
    """Adds fields while keeping the whole embed under Discord's 6000-character total."""

    def __init__(self, embed: discord.Embed) -> None:
        self.embed = embed
        self.used = len(embed)

    def field(self, name: str, value: str, *, inline: bool = False) -> bool:
        name, value = clip(name, FIELD_NAME_MAX), clip(value or "–", FIELD_VALUE_MAX)
        if len(self.embed.fields) >= FIELDS_MAX or self.used + len(name) + len(value) > 5800:
            return False
        self.embed.add_field(name=name, value=value, inline=inline)
        self.used += len(name) + len(value)
        return True


def scan_line(scan: ScanResult) -> str:
    extra = " (over budget)" if scan.over_budget else ""
    commit = f" @ `{scan.commit}`" if scan.commit else ""
    took = format_duration(scan.duration_s)
    return f"{SCAN_ICON[scan.outcome]} {scan.outcome} in {took}{extra}{commit} · " \
           f"{when(scan.started_at)}"


def scan_embed(scan: ScanResult, *, trigger: str = "", new_group: str = "") -> discord.Embed:
    ok = scan.outcome is ScanOutcome.PASSED
    embed = discord.Embed(
        title=clip(f"{SCAN_ICON[scan.outcome]} /scan test on {scan.target}: {scan.outcome}",
                   TITLE_MAX),
        colour=RESOLVED_COLOUR if ok else SEVERITY_COLOUR[Severity.WARNING],
        timestamp=scan.started_at)
    parts = [f"Duration {format_duration(scan.duration_s)}"]
    if scan.over_budget:
        parts.append("slower than the latency budget")
    if scan.commit:
        parts.append(f"commit `{scan.commit}`")
    if trigger:
        parts.append(f"trigger: {trigger}")
    embed.description = clip(" · ".join(parts) + (f"\n{scan.reason}" if scan.reason else ""),
                             DESC_MAX)
    budget = EmbedBudget(embed)
    if new_group or scan.fingerprint:
        budget.field("Error group", f"`{new_group or scan.fingerprint}`", inline=True)
    if scan.output and not ok:
        budget.field("Output (redacted)", code_block(scan.output))
    return embed


def errors_embed(target: str, groups: Sequence[ErrorGroup], since_label: str) -> discord.Embed:
    embed = discord.Embed(title=clip(f"Error groups on {target} ({since_label})", TITLE_MAX),
                          colour=SEVERITY_COLOUR[Severity.WARNING if groups else Severity.INFO])
    if not groups:
        embed.description = "No errors recorded."
        return embed
    budget = EmbedBudget(embed)
    for group in groups:
        value = (f"×{group.count} · first {when(group.first_seen)} · last {when(group.last_seen)}"
                 f"\n{group.culprit or group.kind} · `{group.fingerprint}`")
        if group.resolved_at is not None:
            value += f" · ✅ fixed {when(group.resolved_at)}"
        if not budget.field(clip(group.title, FIELD_NAME_MAX), value):
            embed.set_footer(text="More groups than fit: see the attachment.")
            break
    return embed


def errors_attachment(groups: Iterable[ErrorGroup]) -> str:
    """Every group with its redacted sample, for the .txt attachment."""
    blocks = []
    for g in groups:
        blocks.append(f"=== {g.title}\nfingerprint {g.fingerprint} · kind {g.kind} · ×{g.count}"
                      f" · first {g.first_seen.isoformat()} · last {g.last_seen.isoformat()}\n"
                      f"{g.culprit}\n\n{g.sample}\n")
    return "\n".join(blocks)


def restart_embed(report: RestartReport) -> discord.Embed:
    title = (f"🔄 {report.target} restarted" if report.ok
             else f"⚠️ restart of {report.target} failed")
    embed = discord.Embed(title=clip(title, TITLE_MAX),
                          colour=SEVERITY_COLOUR[Severity.INFO if report.ok else Severity.PAGE],
                          timestamp=report.at)
    embed.description = clip(f"{report.reason}\nby {report.requested_by} · {report.trigger}",
                             DESC_MAX)
    budget = EmbedBudget(embed)
    budget.field("PID", f"{report.old_pid or '–'} → {report.new_pid or '–'}", inline=True)
    budget.field("Took", format_duration(report.duration_s), inline=True)
    if report.detail:
        budget.field("Detail", code_block(report.detail, 600))
    if report.evidence:
        budget.field("Evidence (full text attached)", code_block(report.evidence, 900))
    return embed


def text_file(name: str, text: str) -> discord.File:
    """A redacted ``.txt`` attachment (callers pass already-redacted text)."""
    return discord.File(io.BytesIO(text.encode("utf-8")), filename=name)


def needs_attachment(text: str) -> bool:
    return len(text) > ATTACH_OVER


# --- alerts (the Discord sink), history and the audit trail ---------------------------------

NOTIFY_ICON = {NotificationType.FIRING: "🚨", NotificationType.UPDATE: "🔁",
               NotificationType.RESOLVED: "✅", NotificationType.REPEAT: "⏰",
               NotificationType.FLAPPING: "〰️", NotificationType.EVENT: "ℹ️"}
LINE_ICON = {LineState.FIRING: "🔴", LineState.FLAPPING: "🟠", LineState.RESOLVED: "🟢",
             LineState.EVENT: "🔵"}
ALERT_LINES_MAX = 3000  # leaves room in the 6000 total for counts and evidence
HISTORY_ICON = {HistoryKind.INCIDENT: "🚨", HistoryKind.RESTART: "🔄", HistoryKind.ACTION: "🧾"}


def notification_embed(n: Notification) -> discord.Embed:
    """An alert message: one line per alert, counts, downtime, who acked, evidence."""
    resolved = n.type is NotificationType.RESOLVED
    embed = discord.Embed(title=clip(f"{NOTIFY_ICON[n.type]} {n.title}", TITLE_MAX),
                          colour=RESOLVED_COLOUR if resolved else SEVERITY_COLOUR[n.severity],
                          timestamp=n.created_at)
    embed.description = _alert_lines(n.alerts) if n.alerts else _plain_lines(n.lines)
    embed.set_footer(text=clip(f"{n.group_key} · {n.type} · id {n.id}", FOOTER_MAX))
    budget = EmbedBudget(embed)
    counts = _counts_text(n.counts)
    if counts:
        budget.field("Alerts", counts, inline=True)
    if n.downtime_s is not None:
        budget.field("Downtime", format_duration(n.downtime_s), inline=True)
    starts = [a.started_at for a in n.alerts if a.started_at is not None]
    if starts and not resolved:
        budget.field("Since", when(min(starts)), inline=True)
    if n.ack_by:
        budget.field("Acknowledged by", discord.utils.escape_markdown(n.ack_by), inline=True)
    seen: set[str] = set()
    for line in n.alerts:
        evidence = line.details.get("evidence")
        if not isinstance(evidence, str) or not evidence.strip() or evidence in seen:
            continue
        seen.add(evidence)
        if not budget.field(f"Evidence: {line.key.kind}", code_block(evidence)):
            break
    return embed


def _alert_lines(alerts: Sequence[AlertLine]) -> str:
    rendered = [f"{LINE_ICON[a.state]} {discord.utils.escape_markdown(alert_line(a))}"
                for a in alerts]
    return _fit_lines(rendered)


def _plain_lines(lines: Sequence[str]) -> str:
    return _fit_lines([f"• {discord.utils.escape_markdown(line)}" for line in lines]) or "–"


def _fit_lines(lines: Sequence[str]) -> str:
    """Whole lines up to ``ALERT_LINES_MAX``, then how many were left out."""
    kept: list[str] = []
    used = 0
    for index, full in enumerate(lines):
        line = clip(full, 400)
        if used + len(line) + 1 > ALERT_LINES_MAX - 30:
            kept.append(f"… and {len(lines) - index} more")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)


def _counts_text(counts: Mapping[str, int]) -> str:
    labels = (("firing", "firing"), ("flapping", "flapping"), ("resolved", "resolved"),
              ("acked", "acked"), ("occurrences", "occurrences"))
    return " · ".join(f"{counts[key]} {label}" for key, label in labels if counts.get(key))


def history_embed(target: str, items: Sequence[HistoryItem], since_label: str) -> discord.Embed:
    """Incidents, restarts and people's stops, starts and maintenance, newest first, as
    many as fit; a restart shows the call a hung loop was blocked in (the whole evidence
    goes in the ``.txt`` beside it: ``text.history_evidence``)."""
    embed = discord.Embed(title=clip(f"History of {target} ({since_label})", TITLE_MAX),
                          colour=SEVERITY_COLOUR[Severity.INFO])
    if not items:
        embed.description = "Nothing happened in this period: no incidents, no restarts."
        return embed
    budget = EmbedBudget(embed)
    for shown, item in enumerate(items):
        state = ("closed" if item.ok else "open") if item.kind is HistoryKind.INCIDENT else (
            "✅" if item.ok else "❌")
        value = f"{when(item.at)} · {format_duration(item.duration_s)} · {state}"
        detail = plain.history_detail(item)
        if detail:
            value += f"\n{discord.utils.escape_markdown(clip(detail, 300))}"
        name = f"{HISTORY_ICON.get(item.kind, '•')} {plain.history_title(item)}"
        if not budget.field(name, value):
            embed.set_footer(text=f"{len(items) - shown} older entries not shown.")
            break
    return embed


def audit_line(who: str, action: str, target: str | None, *, arguments: Mapping[str, Any],
               result: str, ok: bool, duration_s: float) -> str:
    """The one-line public record of an operator action, for #quick-tasks."""
    esc = discord.utils.escape_markdown
    args = ", ".join(f"{k}: {clip(str(v), 200)}" for k, v in arguments.items() if v not in
                     (None, ""))
    text = (f"🧾 **{esc(who)}** {action}" + (f" on `{target}`" if target else "")
            + (f" ({esc(args)})" if args else "")
            + f" → {'✅' if ok else '❌'} {esc(result)} · {format_duration(duration_s)}")
    return clip(text, CONTENT_MAX)


def silence_text(silence: Silence) -> str:
    matchers = ", ".join(f"{label}={glob}" for label, glob in silence.matchers) or "everything"
    return (f"🔕 Silenced `{matchers}` until {when(silence.ends_at)} "
            f"(id `{silence.id}`): {discord.utils.escape_markdown(silence.comment)}")


def ack_text(ref: str, lines: Sequence[AlertLine]) -> str:
    if not lines:
        return f"Nothing firing matched `{ref}` (already acknowledged or resolved)."
    shown = "\n".join(f"• {discord.utils.escape_markdown(alert_line(line))}" for line in lines[:10])
    more = f"\n… and {len(lines) - 10} more" if len(lines) > 10 else ""
    return clip(f"👍 Acknowledged {len(lines)} alert(s); repeats stop.\n{shown}{more}",
                CONTENT_MAX)


def maintenance_text(result: MaintenanceResult) -> str:
    """The answer to /remi-maintenance: until when, in each reader's own time."""
    if result.until is None and not result.was_on:
        return f"🛠️ {result.target} was not in maintenance; nothing changed."
    if result.until is None:
        return f"🛠️ Maintenance of {result.target} ended; supervision is back on."
    return (f"🛠️ {result.target} is in maintenance until {clock_time(result.until)} "
            f"({when(result.until)}): no restarts, no alerts for it until then.")


def resolve_text(resolution: Resolution) -> str:
    group = resolution.group
    return clip(f"✅ Marked `{group.fingerprint}` fixed: "
                f"{discord.utils.escape_markdown(group.title)}\nIf it happens again it is "
                "reported as a regression.", CONTENT_MAX)
