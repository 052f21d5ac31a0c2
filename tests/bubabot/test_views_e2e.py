"""Buttons: restart confirmations, and alert buttons that survive a Bubabot restart."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest
from bubabot_local.emulator import EmulatorError, Interaction, Message
from bubabot_local.harness import (
    NOW,
    OPERATOR,
    OPERATOR_2,
    QUICK_TASKS,
    VIEWER,
    Harness,
    button,
    firing_line,
)

from remi_ops.alerts.model import Notification, NotificationType
from remi_ops.alerts.text import alert_line
from remi_ops.domain import Severity

pytestmark = [pytest.mark.integration, pytest.mark.timeout(10)]

MESSAGE_KEY = "9d3c0a7e5b1f4e2d8c6a0b9e7f1d3c5a"


def prompt_of(interaction: Interaction) -> Message:
    assert interaction.original is not None
    return interaction.original


# --- confirmation --------------------------------------------------------------------------


async def test_restart_needs_the_askers_confirmation(running: Harness) -> None:
    """Only the asker can confirm; confirming restarts once and posts the result publicly."""
    asked = await running.slash("remi-restart", reason="stuck on /scan")
    prompt = prompt_of(asked)
    assert asked.ephemeral and "Restart **remi**?" in prompt.content
    confirm = button(prompt, "Restart remi")

    other = await running.click(prompt.id, confirm, user=OPERATOR_2)
    assert other.ephemeral and "Only jordan can answer" in prompt_of(other).content
    assert running.service.methods("restart") == []
    await running.wait_audits(1)  # the second operator's press is refused, and audited
    [refusal] = running.service.audits
    assert refusal.actor == f"discord:{OPERATOR_2} (sam)" and refusal.ok is False
    assert refusal.action == "confirm restart of remi"
    assert refusal.result.startswith("refused: pressed discord:") and "(jordan)" in \
        refusal.result
    assert running.audit_lines() == []  # refusals are stored, not announced

    clicked = await running.click(prompt.id, confirm)
    assert clicked.callback_type == 7
    [result] = await running.followups(clicked)
    assert not result.ephemeral and result.embeds[0]["title"] == "🔄 remi restarted"
    assert "fetch_sync" in result.attachments[0].text
    [call] = running.service.methods("restart")
    assert call.args["reason"] == "stuck on /scan" and call.args["actor"].user_id == OPERATOR
    await running.emulator.wait_for(lambda: "done" in prompt.content, what="the prompt edit")
    assert prompt.components == []
    await running.wait_audits(2)
    assert running.service.audits[1].result == "pid 4242 → 4343"


async def test_cancel_changes_nothing(running: Harness) -> None:
    """Cancel removes the buttons and calls nothing."""
    prompt = prompt_of(await running.slash("remi-restart"))
    await running.click(prompt.id, button(prompt, "Cancel"))
    assert prompt.content.startswith("Cancelled") and prompt.components == []
    assert running.service.calls == [] and running.service.audits == []


async def test_an_unanswered_confirmation_expires(harness: Harness) -> None:
    """After the timeout the question says so, its buttons are gone, nothing happened."""
    harness.settings = msgspec.structs.replace(harness.settings, confirm_timeout_s=0.3)
    await harness.start_bot()
    prompt = prompt_of(await harness.slash("remi-restart"))
    confirm = button(prompt, "Restart remi")
    await harness.emulator.wait_for(lambda: "expired" in prompt.content, what="the expiry")
    assert prompt.components == []
    with pytest.raises(EmulatorError, match="no component"):
        await harness.click(prompt.id, confirm)
    assert harness.service.methods("restart") == []


async def test_starting_maintenance_asks_first(running: Harness) -> None:
    """Maintenance stops self-healing, so starting it is confirmed like a restart."""
    prompt = prompt_of(await running.slash("remi-maintenance", duration="4h",
                                           reason="moving hosts"))
    assert running.service.methods("maintenance") == []
    clicked = await running.click(prompt.id, button(prompt, "Start maintenance"))
    until = int((NOW + timedelta(hours=4)).timestamp())
    assert f"remi is in maintenance until <t:{until}:t>" in \
        (await running.followups(clicked))[0].content
    assert running.service.methods("maintenance")[0].args["duration_s"] == 14400


# --- alert buttons -------------------------------------------------------------------------


def alert() -> Notification:
    line = firing_line("hang", severity=Severity.PAGE, evidence="Thread 0x7f …")
    return Notification(id="n1", type=NotificationType.FIRING, group_key="remi:health",
                        target="remi", message_key=MESSAGE_KEY, thread_key="remi:health",
                        severity=Severity.PAGE, title="remi: event loop blocked for 850 s",
                        lines=(alert_line(line),), alerts=(line,), created_at=NOW,
                        counts={"firing": 1})


async def test_alert_buttons_work_after_bubabot_restarts(running: Harness) -> None:
    """Posted by one process, clicked in the next: state lives in the custom_id."""
    ref = await running.sink().deliver(alert(), None)
    assert ref is not None
    await running.stop_bot()
    await running.start_bot()
    message = running.emulator.message(int(ref))
    assert message.custom_ids() == [f"bubabot:ack:{MESSAGE_KEY}", "bubabot:silence1h:remi:hang",
                                    "bubabot:errors:remi", "bubabot:scan:remi",
                                    "bubabot:restart:remi"]

    errors = await running.click(message.id, "bubabot:errors:remi", user=VIEWER)
    assert errors.ephemeral and errors.followups[0].embeds[0]["title"].startswith("Error groups")

    acked = await running.click(message.id, f"bubabot:ack:{MESSAGE_KEY}")
    assert acked.ephemeral
    assert running.service.methods("ack")[0].args["ref"] == MESSAGE_KEY

    await running.click(message.id, "bubabot:silence1h:remi:hang")
    [silence] = running.service.methods("silence")
    assert (silence.args["kind"], silence.args["duration_s"]) == ("hang", 3600)

    scanned = await running.click(message.id, "bubabot:scan:remi")
    assert not scanned.ephemeral and "/scan test on remi" in \
        scanned.followups[0].embeds[0]["title"]

    asked = await running.click(message.id, "bubabot:restart:remi")
    prompt = prompt_of(asked)
    assert asked.ephemeral and running.service.methods("restart") == []
    confirmed = await running.click(prompt.id, button(prompt, "Restart remi"))
    await running.followups(confirmed)
    assert len(running.service.methods("restart")) == 1
    await running.wait_audits(4)  # ack, silence, scan test, restart
    assert sorted(a.action for a in running.service.audits) == ["ack", "restart", "scan test",
                                                                "silence"]


async def test_alert_buttons_check_access_per_click(running: Harness) -> None:
    """A viewer may look at errors but not restart from an alert; the refusal is recorded."""
    ref = await running.sink().deliver(alert(), None)
    assert ref is not None
    refused = await running.click(int(ref), "bubabot:restart:remi", user=VIEWER)
    assert refused.ephemeral and "Only operators" in prompt_of(refused).content
    await running.wait_audits(1)
    assert running.service.audits[0].ok is False
    assert running.service.calls == []
    assert [m.id for m in running.channel(QUICK_TASKS)] == [int(ref)]


async def test_a_bug_in_the_restart_path_is_one_clear_sentence_not_something_went_wrong(
        running: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Not a ``RemiOpsError``: the person still gets one sentence, and it is on record."""
    # a bug is not an engine error; the fake is typed for those, so the ignore is the point
    running.service.fail["restart"] = RuntimeError("no transition stopped -> restarting")  # type: ignore[assignment]
    asked = await running.slash("remi-restart", reason="after the deploy")
    prompt = prompt_of(asked)
    clicked = await running.click(prompt.id, button(prompt, "Restart remi"))
    [answer] = await running.followups(clicked)
    assert answer.ephemeral
    assert answer.content.startswith("⚠️ restart failed: RuntimeError: no transition")
    await running.wait_audits(1)
    assert running.service.audits[0].ok is False
    assert any(r.exc_info for r in caplog.records)  # the traceback went to the log
    caplog.clear()  # logged on purpose; ``no_logged_errors`` guards everything else
