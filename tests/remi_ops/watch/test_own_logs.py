"""Every log Remi writes is watched: a bot logging through its own
``logging.FileHandler('discord.log')`` (discord.py's documented setup) has its errors
grouped and alerted once the target lists the file, and ``remi-ops doctor`` (and ``health``) names
the file and the line to add while it does not."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from bubabot_local.errorkit import (
    alert_lines,
    error_bot_config,
    error_bot_settings,
    errors_sent,
    request_errors,
)
from bubabot_local.simkit import start_by_hand

from remi_ops.cli.main import main
from remi_ops.supervision.supervisor import State
from remi_ops.testing import wait_until, wait_until_async
from remi_ops.watch.watcher import Watcher

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("reap_sims")]


async def test_errors_in_remis_own_discord_log_are_grouped_and_alerted(tmp_path: Path) -> None:
    settings = error_bot_settings(tmp_path, "discord.log", logs=["discord.log"])
    workdir = settings.targets[0].workdir
    assembled = Watcher(settings, console=None, environ={})
    assembled.acquire_locks()
    stop = asyncio.Event()
    task = asyncio.create_task(assembled.run(stop))
    try:
        watch = assembled.watch(None)
        await wait_until_async(lambda: watch.supervisor.state is State.RUNNING, what="running")
        request_errors(workdir, 20, 10)
        await wait_until_async(lambda: errors_sent(workdir), what="10 errors logged")
        groups = await wait_until_async(
            lambda: [g for g in assembled.store.error_groups("remi") if g.count == 10],
            timeout=20, what="10 NameErrors in one group")
        assert len(groups) == 1 and groups[0].title.startswith("NameError")
        assert (workdir / "discord.log").stat().st_size > 0
        assert (workdir / "bot_error.log").read_text(encoding="utf-8") == ""
        await wait_until_async(
            lambda: [line for line in alert_lines(settings) if "NameError" in json.dumps(line)],
            timeout=40, what="the NameError alert")
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        assembled.close()


def doctor(cfg: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--config", str(cfg), "doctor"])
    return code, capsys.readouterr().out


def test_doctor_names_a_log_remi_writes_that_is_not_watched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = error_bot_config(tmp_path, "discord.log")
    workdir = tmp_path / "remi"
    start_by_hand(workdir, sys.executable, "bot.py", "discord.log")
    wait_until((workdir / "discord.log").exists, what="discord.log opened")
    code, out = doctor(cfg, capsys)
    assert code == 1
    assert str(workdir / "discord.log") in out and 'logs = ["discord.log"]' in out
    main(["--config", str(cfg), "health"])  # health gives the same advice
    assert 'logs = ["discord.log"]' in capsys.readouterr().out

    listed = error_bot_config(tmp_path, "discord.log", extra='logs = ["discord.log"]')
    assert doctor(listed, capsys) == (0, "doctor: nothing to fix\n")
