"""/remi-test-alert through a real discord.py client against the emulator, over the real
``WatcherService`` and ``Watcher`` (SQLite store) whose sinks are the alert file and the bot
sink: the test alert appears in #quick-tasks, the person learns which sink delivered it,
the action is audited, and nothing fires."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from bubabot_local.emulator import DiscordEmulator
from bubabot_local.harness import OPERATOR, QUICK_TASKS, Harness
from bubabot_local.simkit import sim_settings

from bubabot.looplag import LoopLagMonitor
from bubabot.sink import DiscordSink
from bubabot.watcher_service import WatcherService
from remi_ops.config import DiscordSettings
from remi_ops.watch import runbook
from remi_ops.watch.watcher import Watcher

pytestmark = [pytest.mark.integration, pytest.mark.timeout(20)]


@pytest.fixture
async def real(emulator: DiscordEmulator, settings: DiscordSettings,
               tmp_path: Path) -> AsyncIterator[tuple[Harness, Watcher]]:
    service = WatcherService(LoopLagMonitor())
    kit = Harness(emulator, cast(Any, service), settings, tmp_path / "bot-state")
    await kit.start_bot()
    sink = DiscordSink(kit.bot, QUICK_TASKS, settings.oncall_role_id)
    watcher = Watcher(sim_settings(tmp_path), console=None, environ={}, extra_sinks=[sink])
    service.bind(watcher)
    yield kit, watcher
    while kit.bots:
        await kit.stop_bot()
    watcher.close()


async def test_remi_test_alert_posts_a_marked_test_and_reports_each_sink(
        real: tuple[Harness, Watcher]) -> None:
    kit, watcher = real
    interaction = await kit.slash("remi-test-alert")
    [answer] = interaction.messages()
    assert answer.ephemeral and answer.content.startswith("✅")
    assert "  file: delivered" in answer.content and "  discord: delivered (ref " in answer.content
    [test] = [m for m in kit.channel() if m.embeds and "TEST" in m.embeds[0]["title"]]
    assert f"ref {test.id}" in answer.content
    assert test.embeds[0]["title"].endswith("no action needed") and test.mention_role_ids == []
    await kit.emulator.wait_for(
        lambda: any(e.action == "test alert" for e in watcher.store.audit_log()),
        what="the audit row")
    [row] = [e for e in watcher.store.audit_log() if e.action == "test alert"]
    await asyncio.sleep(1.0)  # a line would be posted right after the row is stored
    assert kit.audit_lines() == [], "audited, not posted: the test message says who asked"
    assert row.actor == f"discord:{OPERATOR} (jordan)" and row.ok and row.state == "done"
    assert not (await runbook.alerts(watcher)).firing  # no incident: nothing fires


async def test_a_sink_that_cannot_deliver_is_named_with_its_reason(
        real: tuple[Harness, Watcher]) -> None:
    kit, watcher = real
    kit.emulator.fail_next(10, status=403, route_prefix=f"/channels/{QUICK_TASKS}/messages")
    interaction = await kit.slash("remi-test-alert")
    [answer] = interaction.messages()
    assert answer.content.startswith("⚠️") and "  discord: NOT delivered: " in answer.content
    assert "1 of 2 sink(s) did not deliver it" in answer.content
    [row] = [e for e in watcher.store.audit_log() if e.action == "test alert"]
    assert not row.ok
