"""The Remi we spawned is known by pid + create time + marker, whatever it calls itself."""

from __future__ import annotations

import json
import os
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest
from bubabot_local.misbehaving import retitler
from bubabot_local.simkit import bot_target, gone

from remi_ops import host
from remi_ops.config import TargetSettings
from remi_ops.config_file import parse_settings
from remi_ops.store.database import Store
from remi_ops.supervision.supervisor import State
from remi_ops.testing import FakeClock, RecordingNotifier
from remi_ops.testing import wait_until as wait_for
from remi_ops.watch.target import TargetWatch

pytestmark = pytest.mark.integration



def remis_in(workdir: Path) -> list[int]:
    """Every live process running in ``workdir``."""
    found = []
    for proc in psutil.process_iter(["cwd", "status"]):
        if proc.info["cwd"] == str(workdir.resolve()) and proc.info["status"] != "zombie":
            found.append(proc.pid)
    return found


def test_a_remi_that_retitles_and_reexecs_stays_known_across_a_watcher_restart(
        tmp_path: Path) -> None:
    """No second Remi, ever: not at the next check, not after a new watcher starts."""
    target = bot_target(tmp_path / "remi", retitler())
    manager = host.DirectManager(target, tmp_path / "state")
    ident = manager.start()
    wait_for((tmp_path / "remi/renamed").exists)
    assert "renamed" in psutil.Process(ident.pid).cmdline()  # argv no longer matches
    assert host.find_target_processes(target) == []
    for _ in range(3):  # three checks
        assert manager.find() == [ident]
        assert manager.snapshot(ident) is not None
        assert manager.start() == ident
    restarted = host.DirectManager(target, tmp_path / "state")  # a new watcher
    assert [i.pid for i in restarted.find()] == [ident.pid]
    assert restarted.start().pid == ident.pid
    assert remis_in(tmp_path / "remi") == [ident.pid]
    result = restarted.stop(None, 2)  # it signals the known child whatever its title
    assert result.stopped
    assert gone(ident.pid)


def test_checks_and_a_new_watcher_never_start_a_second_retitled_remi(tmp_path: Path) -> None:
    """The issue's 6 copies in 30 s: the watch keeps one Remi through checks and a restart."""
    bot_target(tmp_path / "remi", retitler())
    settings = parse_settings({
        "watchdog": {"state_dir": str(tmp_path / "state")},
        "targets": [{"name": "remi", "workdir": str(tmp_path / "remi"),
                     "command": [sys.executable, "bot.py"]}]}, base_dir=tmp_path)
    pids: set[int] = set()
    for _watcher in range(2):
        clock = FakeClock(start=datetime.now(UTC))
        store = Store.open(tmp_path / "store.sqlite3", clock)
        try:
            watch = TargetWatch(settings, settings.targets[0], store=store, clock=clock,
                                notifier=RecordingNotifier())
            watch.startup()
            wait_for((tmp_path / "remi/renamed").exists)
            for _check in range(3):
                clock.advance(2)
                watch.check()
                assert watch.supervisor.state is State.RUNNING
                assert watch.supervisor.process is not None
                pids.add(watch.supervisor.process.pid)
                assert remis_in(tmp_path / "remi") == sorted(pids)
        finally:
            store.close()
    assert len(pids) == 1
    host.stop(host.DirectManager(settings.targets[0], tmp_path / "state").find()[0], 2)


def test_an_exec_wrapper_remi_is_running_at_the_first_check(tmp_path: Path) -> None:
    """A ``venv/bin/python`` shim that execs the real interpreter is not "not running"."""
    workdir = tmp_path / "remi"
    bot_target(workdir, "import time\ntime.sleep(60)\n")
    shim = workdir / "python-shim"
    shim.write_text(f'#!/bin/sh\nsleep 0.3\nexec {sys.executable} "$@"\n')  # exec later
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    target = TargetSettings(name="remi", workdir=workdir, command=("./python-shim", "bot.py"))
    manager = host.DirectManager(target, tmp_path / "state")
    ident = manager.start()
    wait_for(lambda: psutil.Process(ident.pid).cmdline()[:1] == [sys.executable])
    assert manager.snapshot(ident) is not None
    assert manager.find() == [ident]
    manager.stop(ident, 2)
    assert gone(ident.pid)


def test_a_spawned_remi_never_sees_bubabots_secrets(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Remi gets the allowlist, its ``env`` and its ``pass_env`` names; not DISCORD_TOKEN."""
    monkeypatch.setenv("DISCORD_TOKEN", "bubabots-own-token")
    monkeypatch.setenv("SOUNDCLOUD_CLIENT_ID", "sc-client-id")
    monkeypatch.setenv("PYTHONPATH", "/somewhere/of/bubabots")
    monkeypatch.setenv("LC_TIME", "C")
    reporter = "import json, os\nprint(json.dumps(dict(os.environ)), flush=True)\n"
    target = bot_target(tmp_path / "remi", reporter, env={"REMI_MODE": "prod"},
                        pass_env=["SOUNDCLOUD_CLIENT_ID"])
    ident = host.spawn(target, {"REMI_BEACON_FILE": "beacon.json"})
    assert host.wait_exit(ident, 10) is not None
    seen = json.loads((tmp_path / "remi/bot.log").read_text())
    assert "DISCORD_TOKEN" not in seen
    assert "PYTHONPATH" not in seen
    assert seen["SOUNDCLOUD_CLIENT_ID"] == "sc-client-id"
    assert seen["REMI_MODE"] == "prod"
    assert seen["REMI_BEACON_FILE"] == "beacon.json"
    assert seen["LC_TIME"] == "C"
    assert seen["PATH"] == os.environ["PATH"]
    assert seen[host.SPAWN_ENV] == ident.spawn_id
