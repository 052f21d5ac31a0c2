"""Fixtures for Bubabot's end-to-end tests: the emulator, the fake service, a harness.

The emulator fixtures of ``tests/bubabot/local`` are defined in their own module and take
precedence there; everything here is requested by name, nothing is autouse.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from bubabot_local.emulator import DiscordEmulator, patch_discord_py, unpatch_discord_py
from bubabot_local.harness import (
    BOT_ID,
    GENERAL,
    GUILD,
    ONCALL_ROLE,
    OPERATOR,
    OPERATOR_2,
    OPS_ROLE,
    QUICK_TASKS,
    STRANGER,
    TOKEN,
    VIEW_ROLE,
    VIEWER,
    FakeService,
    Harness,
)

from remi_ops.config import DiscordSettings

#: reconnect noise during outage tests; not a bug in Bubabot
EXPECTED_ERRORS = ("Attempting a reconnect",)


@pytest.fixture
def no_logged_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """discord.py logs (and swallows) exceptions in commands and views: fail on them."""
    yield
    records = caplog.get_records("setup") + caplog.get_records("call")
    errors = [f"{r.name}: {r.getMessage()}" for r in records
              if r.levelno >= logging.ERROR and not r.getMessage().startswith(EXPECTED_ERRORS)]
    assert errors == []


@pytest.fixture
def settings() -> DiscordSettings:
    return DiscordSettings(guild_id=GUILD, alert_channel_id=QUICK_TASKS,
                           operator_role_ids=(OPS_ROLE,), viewer_role_ids=(VIEW_ROLE,),
                           oncall_role_id=ONCALL_ROLE, confirm_timeout_s=300.0)


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    emu = DiscordEmulator(ack_deadline_s=3.0)  # late answers fail, as on Discord
    await emu.start()
    patch_discord_py(emu)
    emu.add_guild(GUILD)
    emu.add_channel(GUILD, QUICK_TASKS, "quick-tasks")
    emu.add_channel(GUILD, GENERAL, "general")
    emu.add_role(GUILD, OPS_ROLE, "ops")
    emu.add_role(GUILD, VIEW_ROLE, "ops-viewer")
    emu.add_role(GUILD, ONCALL_ROLE, "on-call")
    emu.add_member(GUILD, OPERATOR, "jordan", [OPS_ROLE])
    emu.add_member(GUILD, OPERATOR_2, "sam", [OPS_ROLE])
    emu.add_member(GUILD, VIEWER, "vic", [VIEW_ROLE])
    emu.add_member(GUILD, STRANGER, "stan")
    emu.add_bot(TOKEN, BOT_ID, "Bubabot")
    yield emu
    await emu.stop()
    unpatch_discord_py()


@pytest.fixture
async def harness(emulator: DiscordEmulator, settings: DiscordSettings, tmp_path: Path,
                  no_logged_errors: None) -> AsyncIterator[Harness]:
    """A harness with no bot running yet; every bot it started is closed afterwards."""
    kit = Harness(emulator, FakeService(), settings, tmp_path / "state")
    yield kit
    while kit.bots:
        await kit.stop_bot()


@pytest.fixture
async def running(harness: Harness) -> Harness:
    """The harness with one Bubabot logged in, synced and ready."""
    await harness.start_bot()
    return harness
