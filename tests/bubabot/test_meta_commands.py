"""Meta-tests over the whole command set: names, descriptions, tiers, and auditing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from bubabot_local.emulator_limits import command_problems
from bubabot_local.harness import GUILD, FakeService, Harness, button
from discord import app_commands

from bubabot.access import AccessPolicy, Tier
from bubabot.bot import Bubabot
from bubabot.cogs import tier_of
from remi_ops.config import DiscordSettings

#: every command that changes something, how to run it, and the confirm button if any
MUTATIONS: dict[str, tuple[dict[str, object], str | None]] = {
    "remi-restart": ({"reason": "meta"}, "Restart remi"),
    "remi-maintenance": ({"duration": "1h", "reason": "meta"}, "Start maintenance"),
    "remi-scan-test": ({}, None),
    "remi-silence": ({"duration": "1h", "reason": "meta"}, None),
    "remi-ack": ({"ref": "remi/hang"}, None),
    "remi-resolve": ({"fingerprint": "3f2a9c0d1e4b5a69"}, None),
    "remi-test-alert": ({}, None),
}
#: commands whose public result already says who did what: no separate audit line
FOLDED_INTO_RESULT = frozenset({"remi-restart"})
#: the test notification itself names who asked (the real sinks post it; see
#: test_test_alert_e2e): stored, no audit line
STORED_ONLY = frozenset({"remi-test-alert"})


@pytest.fixture
async def offline_bot(tmp_path: Path) -> AsyncIterator[Bubabot]:
    """Cogs installed, never logged in: the tree as it would be synced."""
    settings = DiscordSettings(guild_id=GUILD)
    bot = Bubabot(FakeService(), settings, AccessPolicy.from_settings(settings),
                  sync_state_path=tmp_path / "sync")
    await bot.install()
    yield bot
    await bot.close()


def all_commands(bot: Bubabot) -> list[Any]:
    return list(bot.tree.get_commands(guild=bot.command_scope))


async def test_no_two_commands_share_a_name(offline_bot: Bubabot) -> None:
    names = [c.name for c in all_commands(offline_bot)]
    assert len(names) == len(set(names)) and all(n.startswith("remi-") for n in names)


async def test_discord_would_accept_the_command_set(offline_bot: Bubabot) -> None:
    """Names, description lengths, option order: what a bulk overwrite would check."""
    payload = [c.to_dict(offline_bot.tree) for c in all_commands(offline_bot)]
    assert command_problems(payload) == []


async def test_every_command_and_option_is_described(offline_bot: Bubabot) -> None:
    for command in all_commands(offline_bot):
        assert isinstance(command, app_commands.Command)
        assert command.description and command.description != "…", command.name
        for parameter in command.parameters:
            assert parameter.description and parameter.description != "…", \
                f"/{command.name} {parameter.name}"


async def test_every_command_declares_its_tier(offline_bot: Bubabot) -> None:
    """Access is checked per tier; a command without one would be refused to everybody."""
    for command in all_commands(offline_bot):
        assert isinstance(command.extras.get("tier"), Tier), command.name


async def test_the_mutation_table_covers_every_mutating_command(offline_bot: Bubabot) -> None:
    """A new mutating command must be added to MUTATIONS (and so be audit-tested)."""
    mutating = {c.name for c in all_commands(offline_bot) if tier_of(c) is not Tier.READ}
    assert mutating == set(MUTATIONS)


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_every_mutating_command_is_audited(running: Harness, name: str) -> None:
    """Run it for real: one stored record and one line in #quick-tasks (or, for a restart,
    the public result that names who asked, instead of a fourth message)."""
    options, confirm = MUTATIONS[name]
    interaction = await running.slash(name, options)
    if confirm is not None:
        assert interaction.original is not None
        interaction = await running.click(interaction.original.id,
                                          button(interaction.original, confirm))
    await running.wait_audits(1)
    [entry] = running.service.audits
    assert entry.ok and entry.actor.startswith("discord:")
    if name in FOLDED_INTO_RESULT:
        [result] = await running.followups(interaction)
        assert not result.ephemeral and entry.actor in str(result.embeds)
        assert running.audit_lines() == []
        return
    if name in STORED_ONLY:
        await asyncio.sleep(1.0)  # a line would be posted right after the record is stored
        assert running.audit_lines() == []
        return
    await running.emulator.wait_for(lambda: len(running.audit_lines()) == 1, what="audit line")
