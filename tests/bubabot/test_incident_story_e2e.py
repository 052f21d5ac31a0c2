"""The seed incident as one short story in #quick-tasks, with the example config's timings.

Every timing of ``config/bubabot.example.toml`` that the story depends on (check interval,
hang threshold, beacon staleness, for_checks, group_wait, group_interval, keep_firing_for,
restart and scan-test times) is read from that file and scaled by the same factor,
``SCALE`` = 1/10, so the story runs in about half a minute instead of five. The Remi
simulator's event loop is really blocked (``time.sleep`` inside ``fetch_track``); Bubabot
and the simulator are real discord.py clients of the emulator.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bubabot_local.emulator import DiscordEmulator, Message, patch_discord_py, unpatch_discord_py
from bubabot_local.harness import button
from bubabot_local.mode import GUILD, ONCALL_ROLE, QUICK_TASKS, YOU, World, build_world
from bubabot_local.simkit import processes_in
from bubabot_local.stackkit import message_text as text_of
from bubabot_local.stackkit import until

from bubabot.app import App, build_app
from remi_ops.config_file import parse_settings
from remi_ops.host import reap_exited_children
from remi_ops.supervision.supervisor import State

pytestmark = pytest.mark.integration
SCALE = 0.1
EXAMPLE = Path(__file__).parents[2] / "config" / "bubabot.example.toml"
SIM = [sys.executable, "-m", "bubabot_local.remi_sim", "run", "--heartbeat-interval-s", "0.05",
       "--heartbeat-warn-s", "0.5"]
SCAN = [sys.executable, "-m", "bubabot_local.remi_sim", "scan"]
STUCK = "fetch_track"  # the blocking function in the simulator's stack


@dataclass
class Story:
    emulator: DiscordEmulator
    world: World
    app: App
    workdir: Path

    def posts(self) -> list[Message]:
        return self.emulator.messages(QUICK_TASKS)

    def sims(self) -> list[int]:
        return [p.pid for p in processes_in(self.workdir, "remi_sim")]




def scaled_example(workdir: Path, state: Path, discord: dict[str, Any]) -> dict[str, Any]:
    """The example config's timings × SCALE; paths and commands for the simulator."""
    ex = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    target, restart, health = ex["targets"][0], ex["targets"][0]["restart"], ex["targets"][0][
        "health"]
    alerts = {k: (v * SCALE if k.endswith("_s") else v) for k, v in ex["alerts"].items()}
    return {
        "watchdog": {"check_interval_s": ex["watchdog"]["check_interval_s"] * SCALE,
                     "state_dir": str(state)},
        "targets": [{
            "name": target["name"], "workdir": str(workdir), "command": SIM,
            "env": {"REMI_BEACON_INTERVAL_S": "0.2", "REMI_BEACON_DUMP_AFTER_S": "0.5"},
            "restart": {k: (v * SCALE if k.endswith("_s") or k == "start_seconds" else v)
                        for k, v in restart.items()},
            "health": {"hang_threshold_s": health["hang_threshold_s"] * SCALE,
                       "beacon_stale_s": health["beacon_stale_s"] * SCALE},
            "scan_test": {"command": SCAN, "expect_pattern": "scan ok",
                          "timeout_s": target["scan_test"]["timeout_s"] * SCALE}}],
        "alerts": alerts,
        "discord": discord,
    }


@pytest.fixture
async def story(tmp_path: Path) -> AsyncIterator[Story]:
    emulator = DiscordEmulator()
    await emulator.start()
    patch_discord_py(emulator)
    world = build_world(emulator)
    workdir = tmp_path / "remi"
    workdir.mkdir()
    settings = parse_settings(scaled_example(workdir, tmp_path / "state",
                                             world.discord_settings()), base_dir=tmp_path)
    app = build_app(settings, client_options={"guild_ready_timeout": 0.05})
    await app.start(world.bubabot_token)
    told = Story(emulator, world, app, workdir)
    await until(lambda: emulator.is_connected(bot_token=world.bubabot_token), what="bubabot")
    await until(lambda: app.watcher.watch(None).supervisor.state is State.RUNNING, what="remi")
    try:
        yield told
    finally:
        await app.close()
        for pid in told.sims():
            os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.1)
        reap_exited_children()
        await emulator.stop()
        unpatch_discord_py()


async def test_one_hang_is_one_short_story_threaded_on_its_alert(story: Story) -> None:
    """Blocked loop → the alert with the stuck stack, posted before the restart → the
    restart report and the scan result as replies to it → the same message edited to
    resolved. At most five messages, the stack shown once."""
    await until(lambda: any("scan test passed" in text_of(m) for m in story.posts()),
                what="the scan test after the first start")
    await asyncio.sleep(1.0)
    before = {m.id for m in story.posts()}
    old = story.sims()[0]
    control(story.workdir, do="hang", seconds=3600)
    await until(lambda: [p for p in story.sims() if p != old], what="the restart")
    await until(lambda: any("scan test passed" in text_of(m) for m in story.posts()
                            if m.id not in before), what="the scan result")
    hang = await until(lambda: next((m for m in story.posts() if STUCK in text_of(m)), None),
                       what="the alert with the stuck stack")
    await until(lambda: story.emulator.message(hang.id).embeds[0]["title"].startswith("✅"),
                what="the alert edited to resolved")
    await asyncio.sleep(1.0)  # nothing more should follow
    story_posts = [m for m in story.posts() if m.id not in before]
    for m in story_posts:  # shown when the test fails: the story as posted
        print(m.id, m.reference_id, text_of(m)[:1500], "\n-----")

    assert len(story_posts) <= 5, [m.embeds[0].get("title") for m in story_posts]
    assert [m.id for m in story_posts if STUCK in text_of(m)] == [hang.id], "stack once"
    report = next(m for m in story_posts if "restarted" in text_of(m) and m.id != hang.id)
    scan = next(m for m in story_posts if "scan test passed" in text_of(m))
    assert hang.id < report.id < scan.id, "the alert goes out before the restart report"
    assert report.reference_id == hang.id and scan.reference_id == hang.id
    pages = [m for m in story_posts if f"<@&{ONCALL_ROLE}>" in m.content]
    assert len(pages) == 1 and "hang" in pages[0].content
    assert pages[0].id < report.id, "the page goes out before the restart report"
    assert pages[0].id == hang.id or pages[0].reference_id == hang.id


async def test_one_restart_press_is_a_confirmation_a_result_and_a_scan_follow_up(
        story: Story) -> None:
    """The audit row is written, but not posted as a fourth message; the watcher's own
    restart event is not posted again next to the result the person already sees."""
    await until(lambda: any("scan test passed" in text_of(m) for m in story.posts()),
                what="the scan test after the first start")
    await asyncio.sleep(1.5)

    def everything() -> list[Message]:
        return story.emulator.messages(QUICK_TASKS, include_ephemeral=True)

    before = {m.id for m in everything()}
    emulator, token = story.emulator, story.world.bubabot_token
    asked = await emulator.wait_for_response(await emulator.invoke_slash(
        guild_id=GUILD, channel_id=QUICK_TASKS, user_id=YOU, name="remi-restart",
        options={"reason": "stuck on /scan"}, bot_token=token))
    assert asked.original is not None
    prompt = asked.original
    await emulator.wait_for_response(await emulator.click_button(
        user_id=YOU, message_id=prompt.id, custom_id=button(prompt, "Restart remi")))
    await until(lambda: any("scan test passed" in text_of(m) for m in everything()
                            if m.id not in before), what="the scan follow-up")
    await asyncio.sleep(2.0)  # room for a fourth message to show up
    new = [m for m in everything() if m.id not in before]
    for m in new:  # shown when the test fails
        print(m.id, m.flags, text_of(m)[:300])
    assert len(new) == 3
    assert new[0].id == prompt.id
    assert "restarted" in text_of(new[1])
    assert f"discord:{YOU} (you)" in text_of(new[1]), "the result says who restarted it"
    assert "scan test passed" in text_of(new[2])
    await until(lambda: story.app.watcher.store.query(
        "SELECT count(*) FROM audit WHERE action = 'restart'")[0][0] == 1, what="the audit row")


def control(workdir: Path, **command: Any) -> None:
    tmp = workdir / ".remi_sim_control.tmp"
    tmp.write_text(json.dumps(command), encoding="utf-8")
    tmp.replace(workdir / ".remi_sim_control")
