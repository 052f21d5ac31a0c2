"""The whole stack for real: engine + Bubabot + the Remi simulator + the Discord emulator.

The seed's incident replayed end to end, delivery through a Discord outage and a burst of
429s, and redaction checked on every byte the emulator received.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bubabot_local.emulator import DiscordEmulator, patch_discord_py, unpatch_discord_py
from bubabot_local.harness import button
from bubabot_local.mode import GUILD, QUICK_TASKS, YOU, World, build_world
from bubabot_local.simkit import processes_in
from bubabot_local.stackkit import channel_text, until

from bubabot.app import App, build_app
from remi_ops.config_file import parse_settings
from remi_ops.domain import CheckTrigger, ErrorGroup
from remi_ops.host import reap_exited_children
from remi_ops.supervision.supervisor import State
from remi_ops.watch import runbook

pytestmark = pytest.mark.integration
SIM = [sys.executable, "-m", "bubabot_local.remi_sim", "run", "--heartbeat-interval-s", "0.05",
       "--heartbeat-warn-s", "0.5"]
SCAN = [sys.executable, "-m", "bubabot_local.remi_sim", "scan"]
SC_SECRET = "sc-secret-9f8e7d6c5b4a3f2e1d0c"
BOT_TOKEN_SHAPED = "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs"


@dataclass
class Stack:
    emulator: DiscordEmulator
    world: World
    app: App
    workdir: Path

    def channel_text(self) -> str:
        """Everything visible in #quick-tasks: content, embeds, attachment text."""
        return channel_text(self.emulator, QUICK_TASKS)

    def sims(self) -> list[int]:
        return [p.pid for p in processes_in(self.workdir, "remi_sim")]



def control(workdir: Path, **command: Any) -> None:
    tmp = workdir / ".remi_sim_control.tmp"
    tmp.write_text(json.dumps(command), encoding="utf-8")
    tmp.replace(workdir / ".remi_sim_control")


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    emulator = DiscordEmulator()
    await emulator.start()
    patch_discord_py(emulator)
    world = build_world(emulator)
    workdir = tmp_path / "remi"
    workdir.mkdir()
    settings = parse_settings({
        "watchdog": {"check_interval_s": 60, "state_dir": str(tmp_path / "state")},
        "targets": [{
            "name": "remi", "workdir": str(workdir), "command": SIM,
            "env": {"REMI_BEACON_INTERVAL_S": "0.2", "REMI_BEACON_DUMP_AFTER_S": "0.5",
                    "SOUNDCLOUD_CLIENT_SECRET": SC_SECRET},
            "restart": {"stop_grace_s": 2, "start_seconds": 0.5},
            "health": {"hang_threshold_s": 2.5},
            "scan_test": {"command": SCAN, "timeout_s": 5, "expect_pattern": "scan ok"}}],
        "alerts": {"group_wait_s": 0, "group_interval_s": 0, "keep_firing_for_s": 0,
                   "retry_initial_s": 0.2, "retry_max_s": 1},
        "discord": world.discord_settings(),
    }, base_dir=tmp_path)
    app = build_app(settings, client_options={"guild_ready_timeout": 0.05})
    await app.start(world.bubabot_token)
    stack = Stack(emulator, world, app, workdir)
    await until(lambda: emulator.is_connected(bot_token=world.bubabot_token), what="bubabot")
    await until(lambda: app.watcher.watch(None).supervisor.state is State.RUNNING, what="remi")
    try:
        yield stack
    finally:
        await app.close()
        for pid in stack.sims():
            os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.1)
        reap_exited_children()
        await emulator.stop()
        unpatch_discord_py()


async def test_the_seed_incident_is_healed_and_reported_in_quick_tasks(stack: Stack) -> None:
    """Loop blocked → alert with the stuck stack → restart → scan test → report."""
    old = stack.sims()[0]
    control(stack.workdir, do="hang", seconds=3600)
    await until(lambda: [p for p in stack.sims() if p != old], timeout=20, what="restart")

    def stuck_stack_shown() -> str | None:
        text = stack.channel_text()
        return text if "fetch_track" in text else None

    text = await until(stuck_stack_shown, what="the stuck stack in #quick-tasks")
    assert "blocked" in text
    await until(lambda: "/scan test passed" in stack.channel_text(), what="scan report")
    await until(lambda: "restarted (hang" in stack.channel_text(), what="the restart report")
    by_title = {e.get("title", ""): m for m in stack.emulator.messages(QUICK_TASKS)
                for e in m.embeds}
    report = next(m for t, m in by_title.items() if "restarted (hang" in t)
    incident = stack.emulator.message(report.reference_id or 0)
    assert "blocked" in json.dumps(incident.embeds), "the report replies to the hang alert"


async def test_a_planted_secret_never_reaches_discord(stack: Stack) -> None:
    """Secrets in bot_error.log are redacted from alerts, embeds and attachments."""
    log = stack.workdir / "bot_error.log"
    with log.open("a", encoding="utf-8") as fh:
        fh.write("[2026-01-24 03:00:00] [ERROR   ] remi.scoring: scoring failed\n"
                 "Traceback (most recent call last):\n"
                 '  File "/srv/remi/soundcloud_client.py", line 41, in fetch_track\n'
                 "    resp = session.get(url)\n"
                 "requests.exceptions.HTTPError: 401 Client Error for url: "
                 f"https://api.soundcloud.com/tracks?client_id=abc123&client_secret={SC_SECRET}"
                 f" token={BOT_TOKEN_SHAPED}\n")
    await asyncio.to_thread(stack.app.watcher.watch(None).check)
    await until(lambda: "HTTPError" in stack.channel_text(), what="the error-group alert")
    interaction = await stack.emulator.invoke_slash(
        guild_id=GUILD, channel_id=QUICK_TASKS, user_id=YOU, name="remi-errors",
        options={"since": "24h"}, bot_token=stack.world.bubabot_token)
    await stack.emulator.wait_for_response(interaction, timeout=10)
    bodies = b"\n".join(r.body for r in stack.emulator.requests)
    assert b"HTTPError" in bodies
    assert SC_SECRET.encode() not in bodies
    assert BOT_TOKEN_SHAPED.encode() not in bodies
    assert stack.world.bubabot_token.encode() not in bodies


async def test_alerts_survive_a_discord_outage_and_429s_and_arrive_once(stack: Stack) -> None:
    """Alerts raised while Discord is down or rate-limiting are delivered once afterwards."""
    await stack.emulator.outage()
    old = stack.sims()[0]
    os.kill(old, signal.SIGKILL)
    await until(lambda: [p for p in stack.sims() if p != old], what="restart during outage")
    await asyncio.sleep(1.0)
    assert f"pid {old} →" not in stack.channel_text()
    stack.emulator.fail_next(3, 429, retry_after=0.1)
    await stack.emulator.end_outage()
    await until(lambda: f"pid {old} →" in stack.channel_text(), timeout=20,
                what="the restart report after the outage")
    await asyncio.sleep(1.0)
    posts = [m for m in stack.emulator.messages(QUICK_TASKS)
             if f"pid {old} →" in json.dumps(m.embeds, ensure_ascii=False)]
    assert len(posts) == 1


async def test_an_error_group_is_resolved_from_discord_and_returns_as_a_regression(
        stack: Stack) -> None:
    """/remi-resolve through the real service: the group is marked fixed in the store; the
    next NameError makes it new again."""
    watch, store = stack.app.watcher.watch(None), stack.app.watcher.store

    def name_errors() -> list[ErrorGroup]:
        return [g for g in store.error_groups("remi") if "NameError" in g.title]

    async def the_name_error_counted(more_than: int) -> ErrorGroup:
        """Make the simulator log its NameError and wait until a check counted it. Whichever
        check reads it first (the test's, the 2-s probe's or the scheduled one), the
        store's group is the truth; a check's ``new_groups`` is only the reader's."""
        control(stack.workdir, do="error")
        for _ in range(100):  # checks block: in a thread, never on Bubabot's loop
            await asyncio.to_thread(watch.check, CheckTrigger.OPERATOR)
            counted = [g for g in name_errors() if g.count > more_than]
            if counted:
                return counted[0]
            await asyncio.sleep(0.1)
        raise AssertionError("the NameError was never counted in an error group")

    first = await the_name_error_counted(0)
    fingerprint = first.fingerprint
    interaction = await stack.emulator.invoke_slash(
        guild_id=GUILD, channel_id=QUICK_TASKS, user_id=YOU, name="remi-resolve",
        options={"fingerprint": fingerprint}, bot_token=stack.world.bubabot_token)
    await stack.emulator.wait_for_response(interaction, timeout=10)
    assert f"Marked `{fingerprint}` fixed" in interaction.followups[0].content
    [group] = [g for g in name_errors() if g.fingerprint == fingerprint]
    assert group.resolved_at is not None
    await asyncio.sleep(1.05 - group.resolved_at.microsecond / 1e6)  # log stamps: seconds
    again = await the_name_error_counted(group.count)
    assert again.fingerprint == fingerprint
    assert again.resolved_at is None, "a fixed group that happens again is open again"


async def test_remi_restart_after_a_stop_brings_remi_back(stack: Stack) -> None:
    """stop, then /remi-restart and its confirmation, through the real service and watcher:
    Remi runs again and the channel says so — not "Something went wrong"."""
    [old] = stack.sims()
    await runbook.stop(stack.app.watcher, None, "test", "deploy")
    await until(lambda: stack.sims() == [], what="Remi stopped")
    asked = await stack.emulator.invoke_slash(
        guild_id=GUILD, channel_id=QUICK_TASKS, user_id=YOU, name="remi-restart",
        options={"reason": "back after the deploy"}, bot_token=stack.world.bubabot_token)
    await stack.emulator.wait_for_response(asked, timeout=10)
    prompt = asked.original
    assert prompt is not None
    clicked = await stack.emulator.click_button(
        user_id=YOU, message_id=prompt.id, custom_id=button(prompt, "Restart remi"))
    await stack.emulator.wait_for_response(clicked, timeout=10)
    await until(lambda: [p for p in stack.sims() if p != old], timeout=20, what="Remi back")
    await until(lambda: clicked.followups, timeout=20, what="the restart's answer")
    answer = json.dumps([m.embeds for m in clicked.followups], ensure_ascii=False)
    assert "remi started" in answer or "remi restarted" in answer
    assert "went wrong" not in stack.channel_text() + answer
    assert stack.app.watcher.watch(None).supervisor.state in (State.STARTING, State.RUNNING)
