"""Pure renderers stay inside Discord's limits whatever the engine hands them."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import discord
import pytest
from bubabot_local.emulator_limits import embed_problems
from bubabot_local.harness import NOW, firing_line

from bubabot import render
from bubabot.health_embed import health_embed
from remi_ops.alerts.model import AlertKey, LineState, Notification, NotificationType
from remi_ops.alerts.text import alert_line
from remi_ops.checks.stacks import readable_stack
from remi_ops.domain import HealthReport, RestartReport, Severity, Status, Trigger
from remi_ops.logs.redact import redact_patterns
from remi_ops.store.records import AuditEntry, HistoryItem, HistoryKind, history_of_action
from remi_ops.watch.results import RestartTally


def notify(*lines_evidence: str, kind: NotificationType = NotificationType.FIRING,
           severity: Severity = Severity.PAGE, title: str = "remi: event loop blocked",
           n_lines: int | None = None) -> Notification:
    evidences = lines_evidence or ("",)
    alerts = tuple(dataclasses.replace(firing_line(f"kind{i}", severity=severity, evidence=e),
                                       key=AlertKey("remi", f"kind{i}"))
                   for i, e in enumerate(evidences * (n_lines or 1)))
    return Notification(id="n1", type=kind, group_key="remi:health", target="remi",
                        message_key="abc", thread_key="remi:health", severity=severity,
                        title=title, lines=tuple(alert_line(a) for a in alerts), alerts=alerts,
                        created_at=NOW, counts={"firing": len(alerts), "occurrences": 3})


def fits(embed: discord.Embed) -> bool:
    """What the emulator (and Discord) would accept, and Discord's 6000 total."""
    return embed_problems([embed.to_dict()]) == [] and len(embed) <= render.EMBED_TOTAL_MAX


def test_huge_evidence_stays_under_the_total() -> None:
    """10,000 characters of evidence: the embed still fits, the end of it is kept."""
    embed = render.notification_embed(notify("x" * 9_990 + "LAST-FRAME"))
    assert fits(embed)
    evidence = next(f for f in embed.fields if (f.name or "").startswith("Evidence"))
    assert "LAST-FRAME" in (evidence.value or "")


def test_evidence_cannot_break_out_of_its_code_block() -> None:
    """Backticks inside evidence are neutralised: one block opens, one closes."""
    embed = render.notification_embed(notify("```\n**bold** <@&1> @everyone\n```\nmore"))
    value = next(f.value for f in embed.fields if (f.name or "").startswith("Evidence")) or ""
    assert value.startswith("```\n") and value.endswith("\n```") and value.count("```") == 2


def test_many_alerts_with_evidence_keep_field_and_total_limits() -> None:
    """100 alerts, each with long distinct evidence: ≤ 25 fields, ≤ 6000 characters."""
    embed = render.notification_embed(notify(*(f"{i} " + "y" * 2000 for i in range(100))))
    assert fits(embed) and len(embed.fields) <= render.FIELDS_MAX


def test_hundreds_of_lines_are_summarised() -> None:
    """Lines that do not fit end in "… and N more" instead of a cut line."""
    embed = render.notification_embed(notify("", n_lines=500))
    assert fits(embed)
    assert (embed.description or "").splitlines()[-1].startswith("… and ")


def test_long_title_is_clipped() -> None:
    assert fits(render.notification_embed(notify(title="t" * 1000)))


@pytest.mark.parametrize(("kind", "severity", "colour"), [
    (NotificationType.FIRING, Severity.PAGE, render.SEVERITY_COLOUR[Severity.PAGE]),
    (NotificationType.FIRING, Severity.WARNING, render.SEVERITY_COLOUR[Severity.WARNING]),
    (NotificationType.RESOLVED, Severity.PAGE, render.RESOLVED_COLOUR),
])
def test_colour_by_severity_green_when_resolved(kind: NotificationType, severity: Severity,
                                                colour: int) -> None:
    assert render.notification_embed(notify(kind=kind, severity=severity)).colour == \
        discord.Colour(colour)


def test_resolved_shows_downtime_and_ack() -> None:
    line = dataclasses.replace(firing_line(), state=LineState.RESOLVED, ack_by="jordan",
                               resolved_at=NOW + timedelta(hours=1, minutes=4))
    n = dataclasses.replace(notify(kind=NotificationType.RESOLVED), alerts=(line,),
                            downtime_s=3840.0, ack_by="jordan")
    fields = {f.name: f.value for f in render.notification_embed(n).fields}
    assert fields["Downtime"] == "1h 04m" and fields["Acknowledged by"] == "jordan"


def test_history_keeps_limits_and_says_what_was_left_out() -> None:
    restart = RestartReport("remi", "r" * 300, Trigger.CRASH, "watchdog", False, NOW, 4.0,
                            detail="d" * 2000)
    items = [HistoryItem(at=NOW, target="remi", kind=HistoryKind.RESTART, duration_s=4.0,
                         ok=False, restart=restart) for _ in range(100)]
    embed = render.history_embed("remi", items, "last 7 days")
    assert fits(embed) and len(embed.fields) <= render.FIELDS_MAX
    assert "older entries not shown" in (embed.footer.text or "")


def test_empty_history_says_so() -> None:
    assert "Nothing happened" in (render.history_embed("remi", [], "last hour").description
                                  or "")


def test_audit_line_is_one_short_escaped_line() -> None:
    """A reason can be long or full of markdown; the line stays within a message."""
    line = render.audit_line("jo_rdan", "restart", "remi",
                             arguments={"reason": "*x*" * 2000, "via": "/remi-restart"},
                             result="pid 1 → 2", ok=True, duration_s=4.2)
    assert len(line) <= render.CONTENT_MAX and line.startswith("🧾 **jo\\_rdan** restart")
    assert "\\*x\\*" in line


def test_a_long_stuck_stack_keeps_remis_frames_not_the_stdlib_tail(tmp_path: Path) -> None:
    """The issue's hang alert kept only the last ~1,000 characters (stdlib frames); the
    evidence leads with Remi's frames and the cut now loses the end instead."""
    app = tmp_path / "bot" / "soundcloud.py"
    stdlib = "".join(f'  File "/usr/lib/python3.11/socket.py", line {i}, in recv_into\n'
                     "    return self._sock.recv_into(b)\n" for i in range(200))
    stack = (f'Stack (most recent call first):\n  File "{app}", line 42, in fetch_track_sync\n'
             "    data = sock.recv(65536)\n" + stdlib)
    evidence = readable_stack(stack, tmp_path / "bot")
    embed = render.notification_embed(notify(evidence))
    value = next(f.value for f in embed.fields if (f.name or "").startswith("Evidence")) or ""
    assert fits(embed) and len(evidence) > 6000
    assert value.startswith("```\nBlocked in fetch_track_sync (soundcloud.py:42)")
    assert "data = sock.recv(65536)" in value  # the blocking line itself, not only its name


HANG_STACK = ('Traceback (most recent call last):\n'
              '  File "/srv/remi/packages/bot/soundcloud.py", line 42, in fetch_track_sync\n'
              '    return requests.get(url, timeout=None)\n')


def test_history_reads_like_a_logbook() -> None:
    """A person's stop is "stop by cli:alice: <reason>" (not an open incident); a hang
    restart names the call that blocked."""
    stop = history_of_action(AuditEntry(7, NOW, "cli:alice", "stop", "remi",
                                        {"reason": "deploy"}, "remi: stopped", True, 0.1))
    hang = RestartReport("remi", "event loop blocked for 60s", Trigger.HANG, "watchdog", True,
                         NOW, 2.0, old_pid=1, new_pid=2,
                         evidence=redact_patterns(readable_stack(HANG_STACK, Path("/srv/remi"))))
    items = [stop, HistoryItem(at=NOW, target="remi", kind=HistoryKind.RESTART,
                               duration_s=2.0, ok=True, restart=hang)]
    fields = render.history_embed("remi", items, "last hour").fields
    assert fields[0].name == "🧾 stop by cli:alice: deploy"
    assert "✅" in (fields[0].value or "") and "open" not in (fields[0].value or "")
    assert "Blocked in fetch\\_track\\_sync (soundcloud.py:42)" in (fields[1].value or "")


def health(**overrides: object) -> HealthReport:
    base: dict[str, object] = {"target": "remi", "status": Status.DOWN, "checked_at": NOW,
                               "supervisor_state": "running", "gateway": "connected",
                               "restarts_recent": 3}
    return HealthReport(**{**base, **overrides})  # type: ignore[arg-type]


def fields_of(embed: discord.Embed) -> dict[str, str]:
    return {f.name or "": f.value or "" for f in embed.fields}


def test_health_counts_restarts_and_crashes_as_the_cli_does() -> None:
    embed = health_embed(health(), restarts=RestartTally(3, 1, 900.0))
    assert fields_of(embed)["Restarts (15 min)"] == "3 (1 crash)"
    embed = health_embed(health(), restarts=RestartTally(2, 2, 900.0))
    assert fields_of(embed)["Restarts (15 min)"] == "2 (2 crashes)"


def test_health_names_no_gateway_for_a_process_that_is_not_running() -> None:
    assert fields_of(health_embed(health()))["Gateway"] == "– (not running)"


@pytest.mark.parametrize(("state", "reason", "words"), [
    ("stopped", "stopped by cli:alice: deploy", "Stopped on purpose"),
    ("gave_up", "exit code 78 is listed as not restartable", "Gave up restarting it"),
    ("backoff", "start failed: remi: start failed: workdir does not exist: /srv/remi",
     "Cannot start: its workdir is missing"),
])
def test_health_says_the_state_in_words(state: str, reason: str, words: str) -> None:
    embed = health_embed(health(supervisor_state=state), state_reason=reason)
    supervisor = fields_of(embed)["Supervisor"]
    assert words in supervisor and discord.utils.escape_markdown(reason) in supervisor


def test_health_says_until_when_maintenance_lasts() -> None:
    until = NOW + timedelta(hours=2)
    embed = health_embed(health(supervisor_state="maintenance"),
                                state_reason="maintenance by cli:alice until …: disk",
                                maintenance_until=until)
    supervisor = fields_of(embed)["Supervisor"]
    assert f"In maintenance until <t:{int(until.timestamp())}:t>" in supervisor
    assert "cli:alice" in supervisor
