"""What people read, for real: the whole app (engine + Bubabot) against the Discord
emulator, the Remi simulator, and ``remi-ops`` run as a command line beside it.

/remi-history reads like a logbook (a person's stop with their reason, a hang restart with
the call that blocked, the full evidence attached); /remi-health says what ``remi-ops
health`` says (restarts with the crashes among them, the state in words, no gateway for a
process that is not running); and the restart report still replies to the incident's
alert when Bubabot itself restarted in between.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from bubabot_local.emulator import DiscordEmulator, Message, patch_discord_py, unpatch_discord_py
from bubabot_local.mode import GUILD, QUICK_TASKS, YOU, World, build_world
from bubabot_local.simkit import SCAN, control, sims_in
from bubabot_local.stackkit import message_text as text_of
from bubabot_local.stackkit import until

from bubabot.app import App, build_app
from remi_ops.config_file import load_settings
from remi_ops.host import reap_exited_children
from remi_ops.supervision.supervisor import State
from remi_ops.watch import runbook

pytestmark = pytest.mark.integration
SIM = [sys.executable, "-m", "bubabot_local.remi_sim", "run", "--heartbeat-interval-s", "0.05",
       "--heartbeat-warn-s", "0.5"]
#: the blocking frame line of the simulator's hang (its innermost own frame)
BLOCKED = "Blocked in _read_response (remi_sim_faults.py:"


def config_text(tmp: Path, world: World, *, hang_threshold_s: float,
                keep_firing_for_s: float) -> str:
    """A real ``bubabot.toml`` (the command line reads the same file as the app)."""
    discord = "\n".join(f"{k} = {json.dumps(v)}" for k, v in world.discord_settings().items())
    return f"""
[watchdog]
check_interval_s = 0.5
heartbeat_stale_s = 30
state_dir = "{tmp / 'state'}"

[[targets]]
name = "remi"
workdir = "{tmp / 'remi'}"
command = {json.dumps(SIM)}
env = {{ REMI_BEACON_INTERVAL_S = "0.2", REMI_BEACON_DUMP_AFTER_S = "0.5" }}

[targets.restart]
stop_grace_s = 2
start_seconds = 0.5

[targets.health]
hang_threshold_s = {hang_threshold_s}

[targets.scan_test]
command = {json.dumps(SCAN)}
timeout_s = 5
expect_pattern = "scan ok"

[alerts]
group_wait_s = 0
group_interval_s = 0
keep_firing_for_s = {keep_firing_for_s}
retry_initial_s = 0.2
retry_max_s = 1

[discord]
{discord}
"""


@dataclass
class Rig:
    emulator: DiscordEmulator
    world: World
    cfg: Path
    apps: list[App] = field(default_factory=list)

    @property
    def app(self) -> App:
        return self.apps[-1]

    @property
    def workdir(self) -> Path:
        return self.cfg.parent / "remi"

    async def start_app(self) -> App:
        app = build_app(load_settings(self.cfg), client_options={"guild_ready_timeout": 0.05})
        self.apps.append(app)
        await app.start(self.world.bubabot_token)
        await until(lambda: self.emulator.is_connected(bot_token=self.world.bubabot_token),
                    what="bubabot")
        return app

    async def close_app(self) -> None:
        await self.app.close()

    def posts(self) -> list[Message]:
        return self.emulator.messages(QUICK_TASKS)

    async def slash(self, name: str, **options: object) -> Message:
        """``/name`` by the operator; the answer that follows the defer."""
        asked = await self.emulator.invoke_slash(guild_id=GUILD, channel_id=QUICK_TASKS,
                                                 user_id=YOU, name=name, options=options,
                                                 bot_token=self.world.bubabot_token)
        answered = await self.emulator.wait_for_response(asked, timeout=30)
        [message] = answered.followups
        return message

    async def cli(self, *args: str) -> str:
        """``remi-ops --config … args`` as a child process, off the test's event loop."""
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "remi_ops.cli.main", "--config",
                             str(self.cfg), *args],
            capture_output=True, text=True, timeout=120, check=False)
        assert "Traceback" not in done.stderr, done.stderr
        return done.stdout

    def sims(self) -> list[int]:
        return [p.pid for p in sims_in(self.workdir)]



def field_of(message: Message, name: str) -> str:
    [value] = [f["value"] for f in message.embeds[0]["fields"] if f["name"] == name]
    return str(value)



async def make_rig(tmp_path: Path, *, hang_threshold_s: float,
                   keep_firing_for_s: float = 0) -> AsyncIterator[Rig]:
    emulator = DiscordEmulator()
    await emulator.start()
    patch_discord_py(emulator)
    world = build_world(emulator)
    (tmp_path / "remi").mkdir()
    cfg = tmp_path / "bubabot.toml"
    cfg.write_text(config_text(tmp_path, world, hang_threshold_s=hang_threshold_s,
                               keep_firing_for_s=keep_firing_for_s), encoding="utf-8")
    rig = Rig(emulator, world, cfg)
    try:
        yield rig
    finally:
        for app in rig.apps:
            if not app.stopping.is_set():
                await app.close()
        for pid in rig.sims():
            os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.1)
        reap_exited_children()
        await emulator.stop()
        unpatch_discord_py()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async for made in make_rig(tmp_path, hang_threshold_s=2.5):
        yield made


@pytest.fixture
async def slow_hang_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """A hang threshold long enough for a warning to be posted, and Bubabot to restart,
    before the watcher restarts Remi for the hang; resolutions wait as in the example
    config, so the check right after the restart cannot resolve the hang before the flush
    that posts it."""
    async for made in make_rig(tmp_path, hang_threshold_s=8, keep_firing_for_s=30):
        yield made


async def running(rig: Rig) -> int:
    await until(lambda: rig.app.watcher.watch(None).supervisor.state is State.RUNNING,
                what="remi running")
    pid: int = await until(lambda: rig.sims()[0] if len(rig.sims()) == 1 else 0,
                           what="one sim")
    return pid


async def test_history_reads_like_a_logbook_in_discord_and_on_the_command_line(
        rig: Rig) -> None:
    await rig.start_app()
    first = await running(rig)
    control(rig.workdir, do="hang", seconds=3600)
    await until(lambda: [p for p in rig.sims() if p != first], what="the hang restart")
    await running(rig)
    stopped = await rig.cli("stop", "--reason", "deploy window")
    assert "stopped" in stopped, stopped

    message = await rig.slash("remi-history", since="24h")
    fields = message.embeds[0]["fields"]
    stop = next(f for f in fields if "stop by cli:" in f["name"])
    assert stop["name"].endswith(": deploy window"), stop
    assert "open" not in stop["value"] and "closed" not in stop["value"], stop
    hang = next(f for f in fields if f["name"].startswith("🔄 restart (hang)"))
    assert BLOCKED in hang["value"].replace("\\", ""), hang  # markdown escapes aside
    [attachment] = message.attachments
    assert attachment.filename == "history-remi-24h.txt"
    assert "Full stack:" in attachment.text and BLOCKED in attachment.text

    history = await rig.cli("history")
    assert "stop by cli:" in history and ": deploy window" in history, history
    restart_line = next(i for i, line in enumerate(history.splitlines())
                        if "restart (hang)" in line)
    assert BLOCKED in history.splitlines()[restart_line + 1], history


async def test_the_health_embed_tells_the_same_truth_as_the_cli(rig: Rig) -> None:
    await rig.start_app()
    watcher = rig.app.watcher
    first = await running(rig)
    os.kill(first, signal.SIGKILL)  # a crash: restarted, and it spends the budget
    await until(lambda: [p for p in rig.sims() if p != first], what="the crash restart")
    await running(rig)
    await runbook.restart(watcher, "remi", "cli:alice", "deploy")  # a person's: no budget
    await running(rig)

    health = await rig.slash("remi-health")
    assert field_of(health, "Restarts (15 min)") == "2 (1 crash)", health.embeds
    assert "2 restarts (1 crash) in the last 15 min" in await rig.cli("health")

    await runbook.stop(watcher, "remi", "cli:alice", "deploy window")
    health = await rig.slash("remi-health")
    supervisor = field_of(health, "Supervisor")
    assert "Stopped on purpose" in supervisor and "cli:alice: deploy window" in supervisor
    assert field_of(health, "Gateway") == "– (not running)", health.embeds

    await runbook.maintenance(watcher, "remi", 3600, "cli:alice", "new disk")
    supervisor = field_of(await rig.slash("remi-health"), "Supervisor")
    until_at = watcher.watch(None).supervisor.maintenance_until
    assert until_at is not None
    assert f"In maintenance until <t:{int(until_at.timestamp())}:t>" in supervisor, supervisor
    assert "cli:alice" in supervisor and "new disk" in supervisor, supervisor

    await runbook.stop(watcher, "remi", "cli:alice", "moving the checkout")
    rig.workdir.rename(rig.workdir.with_name("remi-moved"))
    await runbook.start(watcher, "remi", "cli:alice")
    supervisor = field_of(await rig.slash("remi-health"), "Supervisor")
    assert "Cannot start: its workdir is missing" in supervisor, supervisor


async def test_the_restart_report_replies_to_the_incident_after_bubabot_restarted(
        slow_hang_rig: Rig) -> None:
    rig = slow_hang_rig
    await rig.start_app()
    first = await running(rig)
    await until(lambda: any("scan test passed" in text_of(m) for m in rig.posts()),
                what="the scan test after the first start")
    control(rig.workdir, do="hang", seconds=3600)
    warning = await until(lambda: next((m for m in rig.posts()
                                        if "event loop blocked" in text_of(m)), None),
                          what="the blocked-loop warning")
    assert rig.sims() == [first], "the warning comes before the hang restart"
    await rig.close_app()
    seen = {m.id for m in rig.posts()}

    await rig.start_app()  # a new Bubabot: nothing of the old one's memory
    await until(lambda: [p for p in rig.sims() if p != first], what="the hang restart")
    report = await until(lambda: next((m for m in rig.posts() if m.id not in seen
                                       and "restarted" in text_of(m)), None),
                         what="the restart report")
    for m in rig.posts():  # shown when the test fails: the story as posted
        print(m.id, m.reference_id, text_of(m)[:300], "\n-----")
    assert report.reference_id == warning.id, (report.reference_id, warning.id)
