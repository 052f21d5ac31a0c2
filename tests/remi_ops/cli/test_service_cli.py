"""``remi-ops service``: install, uninstall, status and the migration from the old
``com.remi.watchdog`` job, against stand-in launchctl/systemctl that record their argv,
with HOME in a temporary directory so every file lands there."""

from __future__ import annotations

import json
import os
import plistlib
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from bubabot_local.servicekit import StandIns
from bubabot_local.simkit import SIM, sim_config_file, sims_in, start_by_hand

from remi_ops.cli.main import main
from remi_ops.deploy.paths import ServiceSpec
from remi_ops.deploy.units import program_argv, service_environment
from remi_ops.testing import wait_until

UID = os.getuid()


@dataclass
class Box:
    """Where one test's service lands."""

    tmp: Path
    home: Path
    cfg: Path
    ctl: StandIns

    def cli(self, *args: str) -> int:
        return main(["--config", str(self.cfg), "service", *args])

    @property
    def workdir(self) -> Path:
        return self.tmp / "remi"

    @property
    def agent(self) -> Path:
        return self.home / "Library/LaunchAgents/com.bubabot.watch.plist"

    @property
    def unit(self) -> Path:
        return self.home / ".config/systemd/user/bubabot-watch.service"

    def old_agent(self) -> Path:
        """The operator's old job, as the seed describes it."""
        script = self.workdir / "scripts" / "watchdog.sh"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text("#!/bin/bash\n", encoding="utf-8")
        path = self.home / "Library/LaunchAgents/com.remi.watchdog.plist"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(plistlib.dumps({"Label": "com.remi.watchdog", "StartInterval": 60,
                                         "ProgramArguments": [str(script)]}))
        return path


@pytest.fixture
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Box:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("SUDO_USER", "SUDO_UID", "XDG_CONFIG_HOME", "BUBABOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    ctl = StandIns(tmp_path / "bin")
    monkeypatch.setenv("PATH", ctl.path_with_us(os.environ["PATH"]))
    return Box(tmp_path, home, sim_config_file(tmp_path), ctl)


# --------------------------------------------------------------------------- launchd


def test_install_writes_the_agent_and_bootstraps_it(box: Box,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    box.ctl.respond("launchctl print", 113, "Could not find service")
    assert box.cli("install", "--manager", "launchd") == 0
    assert box.ctl.calls() == [
        ["launchctl", "print", f"gui/{UID}/com.bubabot.watch"],
        ["launchctl", "bootstrap", f"gui/{UID}", str(box.agent)]]
    job = plistlib.loads(box.agent.read_bytes())
    assert job["ProgramArguments"][-1] == "watch"
    env = box.home / ".config/bubabot/env"
    assert env.stat().st_mode & 0o777 == 0o600
    assert (box.home / "Library/Logs/bubabot").is_dir()
    assert "starts when" in capsys.readouterr().out


def test_installing_again_boots_the_loaded_agent_out_first(box: Box) -> None:
    assert box.cli("install", "--manager", "launchd") == 0  # print answers 0: loaded
    box.ctl.forget()
    assert box.cli("install", "--manager", "launchd") == 0
    assert box.ctl.calls() == [
        ["launchctl", "print", f"gui/{UID}/com.bubabot.watch"],
        ["launchctl", "bootout", f"gui/{UID}/com.bubabot.watch"],
        ["launchctl", "bootstrap", f"gui/{UID}", str(box.agent)]]


def test_a_failed_bootstrap_fails_the_install(box: Box,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    box.ctl.respond("launchctl print", 113)
    box.ctl.respond("launchctl bootstrap", 5, "Bootstrap failed: 5: Input/output error")
    assert box.cli("install", "--manager", "launchd") == 1
    assert "exit 5 (Bootstrap failed: 5: Input/output error)" in capsys.readouterr().out


def test_uninstall_boots_out_and_removes_the_agent(box: Box,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert box.cli("install", "--manager", "launchd") == 0
    box.ctl.forget()
    assert box.cli("uninstall", "--manager", "launchd") == 0
    assert box.ctl.calls() == [
        ["launchctl", "print", f"gui/{UID}/com.bubabot.watch"],
        ["launchctl", "bootout", f"gui/{UID}/com.bubabot.watch"]]
    assert not box.agent.exists()
    assert "Remi keeps running" in capsys.readouterr().out


def test_uninstall_of_nothing_says_so(box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    box.ctl.respond("launchctl print", 113)
    assert box.cli("uninstall", "--manager", "launchd") == 0
    assert "not installed" in capsys.readouterr().out
    assert [c[1] for c in box.ctl.calls()] == ["print"]


def test_status_reads_launchctl_print(box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    box.ctl.respond("launchctl print", 113, "Could not find service")
    assert box.cli("status", "--manager", "launchd") == 1
    assert "NOT installed" in capsys.readouterr().out
    assert box.cli("install", "--manager", "launchd") == 0
    box.ctl.respond("launchctl print", 0, f"gui/{UID}/com.bubabot.watch = {{\n"
                    "\tstate = running\n\tpid = 4242\n\tendpoints = {\n\t}\n}\n")
    capsys.readouterr()
    assert box.cli("status", "--manager", "launchd") == 0
    assert f"installed at {box.agent}; running (pid 4242)" in capsys.readouterr().out


# --------------------------------------------------------------------------- systemd


def test_install_writes_the_user_unit_and_enables_it(box: Box,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert box.cli("install", "--manager", "systemd") == 0
    assert box.ctl.calls() == [["systemctl", "--user", "daemon-reload"],
                               ["systemctl", "--user", "enable", "--now",
                                "bubabot-watch.service"]]
    assert "KillMode=process" in box.unit.read_text()
    assert "loginctl enable-linger" in capsys.readouterr().out


def test_a_changed_unit_is_restarted(box: Box) -> None:
    box.unit.parent.mkdir(parents=True)
    box.unit.write_text("[Service]\nExecStart=/old/python -m remi_ops.cli.main watch\n")
    assert box.cli("install", "--manager", "systemd") == 0
    assert box.ctl.calls()[-1] == ["systemctl", "--user", "restart", "bubabot-watch.service"]


def test_uninstall_disables_removes_and_reloads(box: Box) -> None:
    assert box.cli("install", "--manager", "systemd") == 0
    box.ctl.forget()
    box.ctl.respond("systemctl --user show", 0, "LoadState=loaded\nActiveState=active\n")
    assert box.cli("uninstall", "--manager", "systemd") == 0
    assert box.ctl.calls()[1:] == [
        ["systemctl", "--user", "disable", "--now", "bubabot-watch.service"],
        ["systemctl", "--user", "daemon-reload"]]
    assert not box.unit.exists()


def test_status_reads_systemctl_show(box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    assert box.cli("install", "--manager", "systemd") == 0
    box.ctl.forget()
    box.ctl.respond("systemctl --user show", 0, "LoadState=loaded\nActiveState=active\n"
                    "SubState=running\nMainPID=777\n")
    capsys.readouterr()
    assert box.cli("status", "--manager", "systemd", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["installed"], doc["running"], doc["pid"], doc["old_jobs"]) == (
        True, True, 777, [])
    assert box.ctl.calls() == [["systemctl", "--user", "show", "bubabot-watch.service",
                                "--property=LoadState,ActiveState,SubState,MainPID"]]
    box.ctl.respond("systemctl --user show", 0, "LoadState=loaded\nActiveState=failed\n"
                    "SubState=failed\nMainPID=0\n")
    assert box.cli("status", "--manager", "systemd") == 1
    assert "NOT running (failed (failed))" in capsys.readouterr().out


def test_no_systemctl_is_one_line_not_a_traceback(box: Box, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(box.tmp / "nowhere"))
    assert box.cli("status", "--manager", "systemd") == 1
    assert "systemctl not found on PATH" in capsys.readouterr().out


# --------------------------------------------------------------------------- migration


def test_install_names_the_old_job_and_the_commands_that_retire_it(
        box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    old = box.old_agent()
    box.ctl.respond("launchctl print", 113)
    assert box.cli("install", "--manager", "launchd") == 0
    out = capsys.readouterr().out
    moved = box.home / ".config/bubabot/retired/com.remi.watchdog.plist"
    assert f"old watchdog job: com.remi.watchdog ({old})" in out
    assert f"    launchctl bootout gui/{UID}/com.remi.watchdog\n" in out
    assert f"    mkdir -p {moved.parent} && mv {old} {moved}\n" in out
    assert "--replace-old" in out
    assert all("com.remi.watchdog" not in " ".join(c) for c in box.ctl.calls())
    assert old.exists()
    assert box.cli("status", "--manager", "launchd") == 1  # print answers 113
    assert "old watchdog job still present: com.remi.watchdog" in capsys.readouterr().out


def test_replace_old_boots_the_old_job_out_and_moves_its_plist(box: Box) -> None:
    old = box.old_agent()
    box.ctl.respond("launchctl print", 113)
    assert box.cli("install", "--manager", "launchd", "--replace-old") == 0
    assert box.ctl.calls() == [
        ["launchctl", "bootout", f"gui/{UID}/com.remi.watchdog"],
        ["launchctl", "print", f"gui/{UID}/com.bubabot.watch"],
        ["launchctl", "bootstrap", f"gui/{UID}", str(box.agent)]]
    assert not old.exists()
    assert (box.home / ".config/bubabot/retired/com.remi.watchdog.plist").is_file()


def test_replace_old_disables_an_old_systemd_watchdog(box: Box) -> None:
    (box.workdir / "scripts").mkdir(parents=True)
    old = box.home / ".config/systemd/user/remi-watchdog.service"
    old.parent.mkdir(parents=True)
    old.write_text(f"[Service]\nExecStart={box.workdir}/scripts/watchdog.sh\n")
    assert box.cli("install", "--manager", "systemd", "--replace-old") == 0
    assert box.ctl.calls()[0] == ["systemctl", "--user", "disable", "--now",
                                  "remi-watchdog.service"]


def test_without_a_config_file_a_service_is_refused(
        box: Box, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(box.tmp)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(box.tmp / "xdg"))
    assert main(["service", "print"]) == 2
    err = capsys.readouterr().err
    assert "no configuration found" in err and "remi-ops config init" in err


# --------------------------------------------------------------------------- adoption


@pytest.mark.integration
@pytest.mark.usefixtures("reap_sims")
def test_the_service_adopts_the_remi_already_running(box: Box) -> None:
    """What the plist runs, run for real: it adopts the Remi running before it, and does
    not start a second."""
    pid = start_by_hand(box.workdir, *SIM)
    wait_until(lambda: sims_in(box.workdir), what="Remi started by hand")
    spec = ServiceSpec(manager="launchd", config=box.cfg, python=sys.executable,
                       home=box.home, user="op", uid=UID, search_path=os.environ["PATH"])
    spec.env_file.parent.mkdir(parents=True)
    spec.env_file.write_text("BUBA_UNUSED=1\n")
    spec.env_file.chmod(0o600)
    watcher = subprocess.Popen(program_argv(spec), cwd=spec.workdir,
                               env={**os.environ, **service_environment(spec)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def watched() -> bool:
            out = subprocess.run([sys.executable, "-m", "remi_ops.cli.main", "--config",
                                  str(box.cfg), "status", "--json"], capture_output=True,
                                 text=True, timeout=60, check=False).stdout
            return bool(out) and json.loads(out)[0]["watched"]
        wait_until(watched, timeout=30, what="the service's watcher up")
        time.sleep(1.5)  # it adopts or starts at once
        assert [p.pid for p in sims_in(box.workdir)] == [pid]
    finally:
        watcher.send_signal(signal.SIGTERM)
        _, err = watcher.communicate(timeout=20)
    assert watcher.returncode == 0, err
