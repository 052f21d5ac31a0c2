"""Alerts without the bot, for real: ``remi-ops watch`` in its own process with
``DISCORD_WEBHOOK_URL`` pointing at the emulator's channel webhook, the simulated Remi killed,
and ``remi-ops test-alert`` with and without a running watcher."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
from bubabot_local.emulator import DiscordEmulator
from bubabot_local.emulator_channel_webhooks import ChannelWebhook
from bubabot_local.emulatorkit import GUILD, QUICK_TASKS
from bubabot_local.simkit import sim_config_file, sims_in
from bubabot_local.stackkit import channel_text, until

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("reap_sims"),
              pytest.mark.timeout(120)]
FAST_ALERTS = """
[alerts]
group_wait_s = 0
group_interval_s = 0
keep_firing_for_s = 0
retry_initial_s = 0.2
retry_max_s = 1
"""


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    emu = DiscordEmulator()
    await emu.start()
    emu.add_guild(GUILD)
    emu.add_channel(GUILD, QUICK_TASKS, "quick-tasks")
    yield emu
    await emu.stop()


@pytest.fixture
def hook(emulator: DiscordEmulator) -> ChannelWebhook:
    return emulator.add_channel_webhook(QUICK_TASKS)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return sim_config_file(tmp_path, extra=FAST_ALERTS)


def env(hook: ChannelWebhook | None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != "DISCORD_WEBHOOK_URL"}
    return base if hook is None else {**base, "DISCORD_WEBHOOK_URL": hook.url}


async def run(cfg: Path, *args: str,
              environ: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command line in a worker thread: the emulator keeps serving meanwhile."""
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "remi_ops.cli.main", "--config", str(cfg),
                         *args], capture_output=True, text=True, timeout=90, check=False,
        env=dict(environ or env(None)))


async def start_watcher(cfg: Path, hook: ChannelWebhook) -> subprocess.Popen[bytes]:
    log = (cfg.parent / "watcher.log").open("ab")
    watcher = subprocess.Popen([sys.executable, "-m", "remi_ops.cli.main", "--config",
                                str(cfg), "watch"], stdout=log, stderr=log, env=env(hook))
    log.close()

    async def watched() -> bool:
        done = await run(cfg, "status", "--json")
        return bool(done.stdout) and json.loads(done.stdout)[0]["watched"]

    for _ in range(300):
        if await watched():
            return watcher
        await asyncio.sleep(0.1)
    raise AssertionError((cfg.parent / "watcher.log").read_text(errors="replace")[-800:])


async def stop(watcher: subprocess.Popen[bytes]) -> None:
    watcher.send_signal(signal.SIGTERM)
    await asyncio.to_thread(watcher.wait, 20)


async def test_a_killed_remi_is_reported_in_quick_tasks_through_the_webhook(
        emulator: DiscordEmulator, hook: ChannelWebhook, cfg: Path) -> None:
    """Death alert, then the restart report linking to it: posted by the webhook.

    The restart waits 3 s, so the death is still true when the watcher acts on it and its
    alert is posted first. (Restarted at once, a check may see the new Remi before the
    restart is reported; then the report alone tells the story, by design: one outage, one
    message, and which of the two a busy machine gives is timing.)"""
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace("stop_grace_s = 2", "stop_grace_s = 2\nimmediate_delay_s = 3"),
                   encoding="utf-8")
    watcher = await start_watcher(cfg, hook)
    try:
        await until(lambda: len(sims_in(cfg.parent / "remi")) == 1, timeout=30,
                    what="Remi started")
        [remi] = sims_in(cfg.parent / "remi")
        remi.kill()
        await until(lambda: "restarted" in channel_text(emulator, QUICK_TASKS), timeout=60,
                    what="the restart report in #quick-tasks")
    finally:
        await stop(watcher)
    messages = emulator.messages(QUICK_TASKS)
    assert messages and all(m.webhook_id == hook.id for m in messages)
    titles = {m.id: " | ".join(e["title"] for e in [*m.embeds, *(e for r in m.revisions
                                                                  for e in r.embeds)])
              for m in messages}  # the alert may have been edited to resolved since
    [death] = [m for m in messages if "process is not running" in titles[m.id]]
    [report] = [m for m in messages if "restarted (crash" in titles[m.id]]
    assert "killed by SIGKILL" in titles[report.id]
    assert report.content == (f"↪️ follows https://discord.com/channels/{GUILD}/{QUICK_TASKS}/"
                              f"{death.id}"), "the report links to the death alert"
    log = (cfg.parent / "watcher.log").read_text(errors="replace")
    assert hook.token not in log


async def test_test_alert_without_a_watcher_goes_through_the_webhook_itself(
        emulator: DiscordEmulator, hook: ChannelWebhook, cfg: Path) -> None:
    done = await run(cfg, "test-alert", environ=env(hook))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "  file: delivered" in done.stdout and "  webhook: delivered (ref " in done.stdout
    assert "every sink delivered it" in done.stdout
    [message] = emulator.messages(QUICK_TASKS)
    title = message.embeds[0]["title"]
    assert "TEST — this is a test alert from cli:" in title and "no action needed" in title
    assert message.mention_role_ids == [] and not message.mention_everyone
    firing = json.loads((await run(cfg, "alerts", "--json")).stdout)["firing"]
    assert firing == []  # no incident, nothing firing


async def test_test_alert_says_the_bot_sink_is_not_reached_without_bubabot(
        emulator: DiscordEmulator, tmp_path: Path) -> None:
    """Bubabot's channel configured, no webhook, nobody running: exit 1 and why."""
    cfg = sim_config_file(tmp_path, extra="[discord]\nalert_channel_id = 77\n")
    done = await run(cfg, "test-alert", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    by_sink = {d["sink"]: d for d in doc["deliveries"]}
    assert by_sink["file"]["delivered"] and not by_sink["discord"]["delivered"]
    assert "not running" in by_sink["discord"]["reason"] and doc["ok"] is False


async def test_test_alert_with_a_running_watcher_is_sent_by_the_watcher(
        emulator: DiscordEmulator, hook: ChannelWebhook, cfg: Path) -> None:
    """The command line has no webhook URL; the watcher has, and sends it."""
    watcher = await start_watcher(cfg, hook)
    try:
        done = await run(cfg, "test-alert")
    finally:
        await stop(watcher)
    assert done.returncode == 0, done.stdout + done.stderr
    for sink in ("file", "console", "webhook"):
        assert f"  {sink}: delivered" in done.stdout, done.stdout
    assert any("TEST — this is a test alert" in m.embeds[0]["title"]
               for m in emulator.messages(QUICK_TASKS))
