"""Audit first, through the real service: a Discord reply that fails after the action
cannot lose the action's audit row.

A real discord.py client against the emulator (which fails the follow-up on demand), the
real ``WatcherService`` over a real ``Watcher`` and SQLite store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from bubabot_local.emulator import DiscordEmulator
from bubabot_local.harness import OPERATOR, Harness
from bubabot_local.simkit import sim_settings

from bubabot.looplag import LoopLagMonitor
from bubabot.watcher_service import WatcherService
from remi_ops.config import DiscordSettings
from remi_ops.store.records import AuditEntry
from remi_ops.watch.watcher import Watcher


@pytest.fixture
async def real(emulator: DiscordEmulator, settings: DiscordSettings,
               tmp_path: Path) -> AsyncIterator[tuple[Harness, Watcher]]:
    watcher = Watcher(sim_settings(tmp_path), console=None, environ={})
    service = WatcherService(LoopLagMonitor(), watcher)
    kit = Harness(emulator, cast(Any, service), settings, tmp_path / "bot-state")
    await kit.start_bot()
    yield kit, watcher
    while kit.bots:
        await kit.stop_bot()
    watcher.close()


def silences(watcher: Watcher) -> list[AuditEntry]:
    return [e for e in watcher.store.audit_log() if e.action == "silence"]


async def test_a_silence_whose_reply_failed_is_audited(
        real: tuple[Harness, Watcher]) -> None:
    kit, watcher = real
    kit.emulator.fail_next(5, status=404, route_prefix="/webhooks/")  # every follow-up
    interaction = await kit.emulator.invoke_slash(
        guild_id=kit.settings.guild_id, channel_id=kit.settings.alert_channel_id,
        user_id=OPERATOR, name="remi-silence", options={"duration": "1h", "reason": "deploy"})
    await kit.emulator.wait_for(lambda: bool(watcher.hub.engine.silences(watcher.clock.now())),
                                what="the silence in force")
    await kit.emulator.wait_for(lambda: any(r.state != "requested" for r in silences(watcher)),
                                what="the silence's audit row")
    [row] = silences(watcher)
    assert row.actor == f"discord:{OPERATOR} (jordan)" and row.ok and row.state == "done"
    assert row.arguments["reason"] == "deploy" and "silenced target=remi" in row.result
    assert interaction.followups == []  # the reply really failed


async def test_a_silence_answered_completes_its_one_row(real: tuple[Harness, Watcher]) -> None:
    kit, watcher = real
    await kit.slash("remi-silence", duration="1h", reason="deploy")
    await kit.emulator.wait_for(
        lambda: any(r.arguments.get("via") == "/remi-silence" for r in silences(watcher)),
        what="Bubabot's record")
    [row] = silences(watcher)  # one row: requested, done, then Bubabot's words on it
    assert row.state == "done" and row.result.startswith("silence ")
