"""Every slash command against a real Bubabot on the emulator, with the fake service.

Checks what a person sees (deferral, ephemeral or public, embed, attachment) and what the
engine was asked, plus the access gate and the command sync that must not repeat.
"""

from __future__ import annotations

import pytest
from bubabot_local.emulator import DiscordEmulator
from bubabot_local.harness import GUILD, OPERATOR, QUICK_TASKS, STRANGER, VIEWER, Harness

from bubabot.bot import Bubabot
from remi_ops.exceptions import RemiOpsError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(10)]

FINGERPRINT = "3f2a9c0d1e4b5a69"  # the fake service's one error group
COMMANDS = ["remi-ack", "remi-errors", "remi-health", "remi-history", "remi-maintenance",
            "remi-resolve", "remi-restart", "remi-scan-test", "remi-silence", "remi-test-alert"]


# --- login and sync ------------------------------------------------------------------------


async def test_login_syncs_the_guild_commands_once(harness: Harness,
                                                   emulator: DiscordEmulator) -> None:
    """The first start syncs; a second start with the same state dir does not PUT again."""
    first = await harness.start_bot()
    assert first.synced_on_start is True
    assert sorted(c["name"] for c in emulator.synced_commands(first.application_id or 0, GUILD)) \
        == COMMANDS
    assert emulator.sync_count() == 1
    await harness.stop_bot()

    second = await harness.start_bot()
    assert second.synced_on_start is False
    assert emulator.sync_count() == 1


async def test_the_ready_hook_runs_once(harness: Harness) -> None:
    """Local mode and the scheduler start from the hook, after the first READY only."""
    seen: list[str] = []
    readies: list[None] = []

    async def hook(bot: Bubabot) -> None:
        seen.append(str(bot.user))

    async def count_ready() -> None:
        readies.append(None)

    async def no_wait(shard_id: int | None, *, initial: bool = False) -> None:
        """Skip discord.py's 5 s sleep before a re-IDENTIFY (pitfall 4)."""

    bot = await harness.start_bot(on_ready_hook=hook)
    bot.before_identify_hook = no_wait  # type: ignore[method-assign]  # discord.py's hook, per instance
    bot.add_listener(count_ready, "on_ready")
    await harness.emulator.wait_for(lambda: bool(seen), what="the ready hook")
    await harness.emulator.invalidate_session(False)  # a new session: READY again
    await harness.emulator.wait_for(lambda: len(readies) == 1, what="a second READY")
    assert seen == ["Bubabot"]


async def test_a_stale_sync_state_syncs_again(harness: Harness,
                                              emulator: DiscordEmulator) -> None:
    """When the stored hash differs from the current commands, Bubabot syncs."""
    await harness.start_bot()
    await harness.stop_bot()
    harness.sync_state_path.write_text("0" * 64 + "\n", encoding="utf-8")
    bot = await harness.start_bot()
    assert bot.synced_on_start is True
    assert emulator.sync_count() == 2


# --- read-only commands --------------------------------------------------------------------


async def test_health_is_deferred_then_answered_in_public(running: Harness) -> None:
    """A check takes time: defer, then the report for everyone, evidence attached."""
    interaction = await running.slash("remi-health")
    assert interaction.callback_type == 5 and not interaction.ephemeral
    [message] = interaction.followups
    assert message.embeds[0]["title"].endswith("remi: degraded")
    [attachment] = message.attachments
    assert attachment.filename == "health-remi.txt" and "fetch_sync" in attachment.text
    assert [c.args["target"] for c in running.service.methods("health")] == ["remi"]


async def test_errors_are_listed_for_the_asker_only(running: Harness) -> None:
    """Error groups come back ephemeral, with every sample in a .txt attachment."""
    interaction = await running.slash("remi-errors", since="7d", target="remi-staging")
    assert interaction.callback_type == 5 and interaction.ephemeral
    [message] = interaction.followups
    assert message.ephemeral and "×37" in message.embeds[0]["fields"][0]["value"]
    assert "NameError" in message.attachments[0].text
    [call] = running.service.methods("errors")
    assert call.args["target"] == "remi-staging" and call.args["since_s"] == 604800


async def test_history_is_listed_for_the_asker_only(running: Harness) -> None:
    """Incidents and restarts, newest first, ephemeral."""
    interaction = await running.slash("remi-history", since="30d")
    [message] = interaction.followups
    assert interaction.ephemeral and len(message.embeds[0]["fields"]) == 2
    assert running.service.methods("history")[0].args["since_s"] == 2_592_000


async def test_target_autocomplete_offers_configured_targets(
        running: Harness, emulator: DiscordEmulator) -> None:
    """Typing in ``target`` suggests matching target names."""
    interaction = await emulator.autocomplete(guild_id=GUILD, channel_id=QUICK_TASKS,
                                              user_id=OPERATOR, name="remi-health",
                                              focused="target", options={"target": "stag"})
    await emulator.wait_for_response(interaction)
    assert [c["value"] for c in interaction.choices] == ["remi-staging"]


async def test_unknown_target_is_a_clear_error(running: Harness) -> None:
    """A typed target that is not configured gets an ephemeral answer naming the real ones."""
    interaction = await running.slash("remi-health", target="rem1")
    assert interaction.ephemeral
    assert "Unknown target `rem1`" in (interaction.original.content if interaction.original
                                        else "")
    assert running.service.methods("health") == []


# --- mutations -----------------------------------------------------------------------------


async def test_scan_test_result_is_public_and_audited(running: Harness) -> None:
    """The result is for everyone; the action is stored and announced in #quick-tasks."""
    interaction = await running.slash("remi-scan-test")
    assert interaction.callback_type == 5 and not interaction.ephemeral
    assert interaction.followups[0].embeds[0]["title"].startswith("✅ /scan test on remi")
    await running.wait_audits(1)
    [entry] = running.service.audits
    assert (entry.action, entry.target, entry.ok) == ("scan test", "remi", True)
    assert entry.actor.startswith(f"discord:{OPERATOR} (jordan)")
    await running.emulator.wait_for(lambda: bool(running.audit_lines()), what="audit line")
    assert running.audit_lines()[0].startswith("🧾 **jordan** scan test on `remi`")


async def test_silence_passes_its_options_and_is_audited(running: Harness) -> None:
    """Duration choice → seconds; kind, fingerprint and reason reach the engine."""
    interaction = await running.slash("remi-silence", duration="4h", reason="deploying",
                                      kind="hang", fingerprint="3f2a9c0d")
    assert interaction.ephemeral and "Silenced" in interaction.followups[0].content
    [call] = running.service.methods("silence")
    assert call.args | {"actor": None} == {"target": "remi", "kind": "hang",
                                           "fingerprint": "3f2a9c0d", "duration_s": 14400,
                                           "reason": "deploying", "actor": None}
    await running.wait_audits(1)
    assert running.service.audits[0].arguments["reason"] == "deploying"


async def test_ack_by_command(running: Harness) -> None:
    """/remi-ack hands the ref to the engine and records who acknowledged."""
    interaction = await running.slash("remi-ack", ref="remi/hang")
    assert interaction.ephemeral and "Nothing firing matched" in \
        interaction.followups[0].content
    assert running.service.methods("ack")[0].args["ref"] == "remi/hang"
    await running.wait_audits(1)
    assert running.service.audits[0].action == "ack"


async def test_resolve_marks_the_group_fixed_and_is_audited(running: Harness) -> None:
    """/remi-resolve hands the fingerprint to the engine; the answer is for the asker, the
    record for everyone."""
    interaction = await running.slash("remi-resolve", fingerprint=FINGERPRINT)
    assert interaction.callback_type == 5 and interaction.ephemeral
    assert f"Marked `{FINGERPRINT}` fixed" in interaction.followups[0].content
    [call] = running.service.methods("resolve")
    assert (call.args["target"], call.args["fingerprint"]) == ("remi", FINGERPRINT)
    await running.wait_audits(1)
    [entry] = running.service.audits
    assert (entry.action, entry.target, entry.ok) == ("resolve", "remi", True)
    assert entry.arguments["fingerprint"] == FINGERPRINT
    await running.emulator.wait_for(lambda: bool(running.audit_lines()), what="audit line")
    assert running.audit_lines()[0].startswith("🧾 **jordan** resolve on `remi`")


async def test_resolving_an_unknown_group_fails_clearly(running: Harness) -> None:
    """A fingerprint the target does not have: said so, and the attempt is on record."""
    interaction = await running.slash("remi-resolve", fingerprint="0badc0de",
                                      target="remi-staging")
    assert "resolve failed: remi-staging: no error group '0badc0de'" in \
        interaction.followups[0].content
    await running.wait_audits(1)
    assert running.service.audits[0].ok is False


async def test_ending_maintenance_needs_no_confirmation(running: Harness) -> None:
    """"end" hands control back at once; starting one asks first (see test_views_e2e)."""
    interaction = await running.slash("remi-maintenance", duration="end", reason="done")
    assert "Maintenance of remi ended" in interaction.followups[0].content
    assert running.service.methods("maintenance")[0].args["duration_s"] == 0
    await running.wait_audits(1)


async def test_engine_errors_are_reported_and_audited_as_failed(running: Harness) -> None:
    """An engine error is a clear message, and the failed attempt is on record."""
    running.service.fail["scan_test"] = RemiOpsError("the scan test command is missing")
    interaction = await running.slash("remi-scan-test")
    assert "scan test failed: the scan test command is missing" in \
        interaction.followups[0].content
    await running.wait_audits(1)
    assert running.service.audits[0].ok is False


# --- access --------------------------------------------------------------------------------


@pytest.mark.parametrize(("user", "command", "options", "why"), [
    (STRANGER, "remi-health", {}, "You need one of the ops roles"),
    (VIEWER, "remi-scan-test", {}, "Only operators"),
    (VIEWER, "remi-restart", {}, "Only operators"),
    (VIEWER, "remi-resolve", {"fingerprint": "3f2a9c0d1e4b5a69"}, "Only operators"),
])
async def test_refusals_are_clear_ephemeral_and_audited(
        running: Harness, user: int, command: str, options: dict[str, object],
        why: str) -> None:
    """No role, no action: an ephemeral reason, nothing called, the refusal recorded."""
    interaction = await running.slash(command, options, user=user)
    assert interaction.callback_type == 4 and interaction.ephemeral
    assert interaction.original is not None and why in interaction.original.content
    await running.wait_audits(1)
    [entry] = running.service.audits
    assert entry.ok is False and entry.result.startswith("refused")
    assert entry.action == f"/{command}"
    assert [c.method for c in running.service.calls] == []
    assert running.audit_lines() == []  # refusals are stored, not announced
