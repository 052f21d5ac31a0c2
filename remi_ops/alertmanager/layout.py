"""An Alertmanager group laid out as one Discord message, within Discord's limits.

Plain data (an embed as Discord's JSON and the text of an attachment), so it is tested
without Discord. One embed: the group's summary in the title and description, one field
per alert (firing first) with its own status, so a partly resolved group shows which
alert resolved. Discord's limits (reference/discord.md): 256 title, 4096 description, 25
fields of 256/1024, 2048 footer, 6000 in total. What does not fit (more alerts, longer
annotations) is never cut silently: the footer says so and every alert, in full, is in a
``.txt`` attachment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from remi_ops.alertmanager.groups import GroupState

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000
#: room kept in the 6000 for the footer written last
FOOTER_ROOM = 200
#: how much of each alert's own annotations a field shows before pointing to the file
ANNOTATION_SHOWN = 300
RED, GREEN = 0xE74C3C, 0x2ECC71
STATUS_ICON = {"firing": "🔥", "resolved": "✅"}


@dataclass(frozen=True, slots=True)
class GroupMessage:
    """What the group's Discord message holds."""

    embed: Mapping[str, Any]
    attachment: str | None  # the full text, when something did not fit
    filename: str


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(iso: str | None) -> str:
    if not iso:
        return "?"
    return f"<t:{int(datetime.fromisoformat(iso).timestamp())}:R>"


def _labels(labels: Mapping[str, str], skip: Mapping[str, str] = {}) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())
                     if k != "alertname" and skip.get(k) != v)


def _field(alert: Mapping[str, Any], common: Mapping[str, str]) -> tuple[dict[str, Any], bool]:
    """(field, cut?) for one alert."""
    status = alert["status"]
    name = cut(f"{STATUS_ICON.get(status, '❔')} {alert['name']} · {status}", FIELD_NAME_MAX)
    since = (f"ended {_when(alert['ends_at'])}" if status == "resolved"
             else f"since {_when(alert['starts_at'])}")
    lines = [f"`{alert['fingerprint'][:16]}` {since}"]
    own = _labels(alert["labels"], common)
    if own:
        lines.append(own)
    notes = " — ".join(v for k, v in sorted(alert["annotations"].items())
                       if k in ("summary", "description"))
    shown = cut(notes, ANNOTATION_SHOWN)
    if shown:
        lines.append(shown)
    value = "\n".join(lines)
    was_cut = shown != notes or len(value) > FIELD_VALUE_MAX
    return {"name": name, "value": cut(value, FIELD_VALUE_MAX), "inline": False}, was_cut


def _title(state: GroupState) -> str:
    name = state.common_labels.get("alertname") or _labels(state.group_labels) or "alerts"
    if state.firing:
        counts = f"{state.firing} firing" + (f", {state.resolved} resolved"
                                            if state.resolved else "")
        return cut(f"🔥 {name} — {counts}", TITLE_MAX)
    return cut(f"✅ {name} — resolved", TITLE_MAX)


def _description(state: GroupState) -> str:
    parts = []
    notes = state.common_annotations
    for key in ("summary", "description"):
        if notes.get(key):
            parts.append(notes[key])
    labels = _labels(state.common_labels)
    if labels:
        parts.append(f"**Labels** {labels}")
    return cut("\n".join(parts) or "—", DESCRIPTION_MAX)


def full_text(state: GroupState) -> str:
    """Every alert of the group in full: the attachment when the embed is not enough."""
    out = [f"Alertmanager group {state.group_key}", f"status: {state.status} "
           f"({state.firing} firing, {state.resolved} resolved)", ""]
    for alert in state.alerts:
        out.append(f"[{alert['status']}] {alert['name']} fingerprint={alert['fingerprint']}")
        out.append(f"  starts_at={alert['starts_at']} ends_at={alert['ends_at']}")
        out += [f"  label {k}={v}" for k, v in sorted(alert["labels"].items())]
        out += [f"  annotation {k}: {v}" for k, v in sorted(alert["annotations"].items())]
        if alert.get("generator_url"):
            out.append(f"  source: {alert['generator_url']}")
        out.append("")
    if state.truncated:
        out.append(f"Alertmanager left out {state.truncated} more alert(s) (max_alerts).")
    return "\n".join(out)


def layout(state: GroupState) -> GroupMessage:
    """The group's message: the embed within every limit, the rest in the attachment."""
    title, description = _title(state), _description(state)
    used = len(title) + len(description) + FOOTER_ROOM
    fields: list[dict[str, Any]] = []
    overflow = bool(state.truncated) or description.endswith("…")
    for alert in state.alerts:
        field, was_cut = _field(alert, state.common_labels)
        size = len(field["name"]) + len(field["value"])
        if len(fields) >= FIELDS_MAX or used + size > EMBED_TOTAL_MAX:
            overflow = True
            break
        fields.append(field)
        used += size
        overflow = overflow or was_cut
    filename = f"alertmanager-{state.group_id[:12]}.txt"
    footer = f"Alertmanager · group {state.group_id[:12]}"
    hidden = len(state.alerts) - len(fields) + state.truncated
    if hidden:
        footer += f" · {hidden} more alert(s) in {filename}"
    elif overflow:
        footer += f" · full text in {filename}"
    embed: dict[str, Any] = {"title": title, "description": description,
                             "color": RED if state.firing else GREEN, "fields": fields,
                             "footer": {"text": cut(footer, FOOTER_MAX)}}
    if state.external_url:
        embed["url"] = state.external_url
    return GroupMessage(embed, full_text(state) if overflow else None, filename)
