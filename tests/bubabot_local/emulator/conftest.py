"""Fixtures for the emulator's tests, which run a real, unmodified discord.py 2.7.1 client.

One bot per test (discord.py binds to the loop in `login()`, pitfall 10); every client is
closed and the emulator stopped in fixtures, because warnings are errors here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import discord
import pytest
from bubabot_local.emulator import DiscordEmulator, patch_discord_py, unpatch_discord_py
from bubabot_local.emulatorkit import (
    BOT_ID,
    GUILD,
    OPS_ROLE,
    PERSON,
    QUICK_TASKS,
    TOKEN,
    EmulatedBot,
    connect,
)


@pytest.fixture(autouse=True)
def no_swallowed_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """discord.py logs (and swallows) exceptions in commands and views; fail on them."""
    yield
    records = caplog.get_records("setup") + caplog.get_records("call")
    errors = [
        r.getMessage()
        for r in records
        if r.levelno >= logging.ERROR and not r.getMessage().startswith("Attempting a reconnect")
    ]
    assert errors == []


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    emu = DiscordEmulator()
    await emu.start()
    patch_discord_py(emu)
    emu.add_guild(GUILD)
    emu.add_channel(GUILD, QUICK_TASKS, "quick-tasks")
    emu.add_role(GUILD, OPS_ROLE, "ops")
    emu.add_member(GUILD, PERSON, "jordan", [OPS_ROLE])
    emu.add_bot(TOKEN, BOT_ID, "Bubabot")
    yield emu
    await emu.stop()
    unpatch_discord_py()


@pytest.fixture
async def bot(emulator: DiscordEmulator) -> AsyncIterator[EmulatedBot]:
    client = EmulatedBot()
    task = await connect(client, TOKEN)
    yield client
    await client.close()
    await task


@pytest.fixture
async def synced_bot(bot: EmulatedBot) -> EmulatedBot:
    await bot.tree.sync(guild=discord.Object(GUILD))
    return bot
