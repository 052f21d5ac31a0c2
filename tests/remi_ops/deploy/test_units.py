"""The generated plist and unit: they parse, they say what they are, they hold no secret,
and what they run is a real command."""

from __future__ import annotations

import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from remi_ops.deploy.paths import ServiceSpec, default_manager
from remi_ops.deploy.unitfile import exec_start, unit_settings
from remi_ops.deploy.units import launchd_plist, program_argv, systemd_quote, systemd_unit


def spec(tmp_path: Path, **overrides: object) -> ServiceSpec:
    config = tmp_path / "my conf" / "bubabot.toml"
    values: dict[str, object] = {
        "manager": "launchd", "config": config, "python": sys.executable,
        "home": tmp_path / "home", "user": "remi-op", "uid": 501,
        "search_path": "/usr/bin:/bin", **overrides}
    return ServiceSpec(**values)  # type: ignore[arg-type]  # a test table, checked by use


def test_the_manager_follows_the_platform() -> None:
    assert default_manager("darwin") == "launchd"
    assert default_manager("linux") == "systemd"


def test_the_launch_agent_parses_and_has_every_key(tmp_path: Path) -> None:
    job = plistlib.loads(launchd_plist(spec(tmp_path)).encode())
    home = tmp_path / "home"
    assert job["Label"] == "com.bubabot.watch"
    assert job["ProgramArguments"] == [
        sys.executable, "-m", "remi_ops.cli.main", "--config",
        str(tmp_path / "my conf" / "bubabot.toml"), "--env-file",
        str(home / ".config" / "bubabot" / "env"),
        "--log-file", str(home / "Library/Logs/bubabot/watch.log"), "watch"]
    assert job["KeepAlive"] is True and job["RunAtLoad"] is True
    assert job["ProcessType"] == "Interactive" and job["ThrottleInterval"] == 10
    assert job["StandardOutPath"] == str(home / "Library/Logs/bubabot/watch.out.log")
    assert job["StandardErrorPath"] == str(home / "Library/Logs/bubabot/watch.err.log")
    assert job["WorkingDirectory"] == str(tmp_path / "my conf")
    assert "UserName" not in job


def test_no_secret_goes_into_the_service_file(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Only PATH and the config path: the token stays in the 0600 env file."""
    monkeypatch.setenv("DISCORD_TOKEN", "tok-3f9a-secret")
    for manager in ("launchd", "systemd"):
        s = spec(tmp_path, manager=manager)
        text = launchd_plist(s) if manager == "launchd" else systemd_unit(s)
        assert "tok-3f9a-secret" not in text
    job = plistlib.loads(launchd_plist(spec(tmp_path)).encode())
    assert set(job["EnvironmentVariables"]) == {"PATH", "BUBABOT_CONFIG"}


def test_the_agent_says_it_starts_at_login_and_the_daemon_at_boot(tmp_path: Path) -> None:
    agent = launchd_plist(spec(tmp_path))
    assert "starts when remi-op logs in, NOT at boot" in agent
    assert "LaunchDaemon" in agent
    daemon = plistlib.loads(launchd_plist(spec(tmp_path, system=True)).encode())
    assert daemon["UserName"] == "remi-op"
    assert spec(tmp_path, system=True).file == Path(
        "/Library/LaunchDaemons/com.bubabot.watch.plist")
    assert spec(tmp_path, system=True).launchd_domain == "system"


def test_the_bot_service_runs_bubabot(tmp_path: Path) -> None:
    job = plistlib.loads(launchd_plist(spec(tmp_path, bot=True)).encode())
    assert job["Label"] == "com.bubabot.bot"
    assert job["ProgramArguments"][1:3] == ["-m", "bubabot"]
    assert job["ProgramArguments"][-4] == "--env-file"
    # launchd never rotates StandardOutPath: the program rotates its own log
    assert job["ProgramArguments"][-2:] == ["--log-file", job["StandardOutPath"].replace(
        "bot.out.log", "bot.log")]
    assert job["StandardOutPath"].endswith("bot.out.log")


def test_the_unit_restarts_always_and_kills_only_the_watcher(tmp_path: Path) -> None:
    unit = unit_settings(systemd_unit(spec(tmp_path, manager="systemd")))
    assert unit["Restart"] == ["always"] and unit["RestartSec"] == ["5"]
    assert unit["KillMode"] == ["process"]
    assert unit["EnvironmentFile"] == ["-%h/.config/bubabot/env"]
    assert unit["WantedBy"] == ["default.target"] and "User" not in unit
    text = systemd_unit(spec(tmp_path, manager="systemd"))
    assert "loginctl enable-linger remi-op" in text


def test_the_system_unit_runs_as_the_user(tmp_path: Path) -> None:
    s = spec(tmp_path, manager="systemd", system=True)
    unit = unit_settings(systemd_unit(s))
    assert unit["User"] == ["remi-op"] and unit["WantedBy"] == ["multi-user.target"]
    assert unit["EnvironmentFile"] == [f"-{tmp_path / 'home/.config/bubabot/env'}"]
    assert s.file == Path("/etc/systemd/system/bubabot-watch.service")


@pytest.mark.parametrize("word", ["/srv/my remi/x", "50%", "$HOME", 'say "hi"', "a\\b", ""])
def test_systemd_quoting_reads_back_as_written(word: str, tmp_path: Path) -> None:
    assert exec_start(f"ExecStart=/bin/echo {systemd_quote(word)}\n", tmp_path) == [
        "/bin/echo", word]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not on PATH (not a systemd machine)")
@pytest.mark.parametrize("system", [False, True])
def test_systemd_analyze_verifies_the_unit(tmp_path: Path, system: bool) -> None:
    s = spec(tmp_path, manager="systemd", system=system)
    s.config.parent.mkdir(parents=True)  # WorkingDirectory must exist
    unit = tmp_path / s.name
    unit.write_text(systemd_unit(s), encoding="utf-8")
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, timeout=60, check=False)
    about_ours = [line for line in (result.stdout + result.stderr).splitlines()
                  if s.name in line]
    assert result.returncode == 0 and not about_ours, result.stdout + result.stderr


@pytest.mark.parametrize("bot", [False, True])
def test_what_the_unit_runs_is_a_real_command(tmp_path: Path, bot: bool) -> None:
    """ExecStart read back from the file and run (with --help): the path is right."""
    s = spec(tmp_path, manager="systemd", bot=bot)
    argv = exec_start(systemd_unit(s), s.home)
    assert argv == program_argv(s)
    result = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert ("usage: bubabot" if bot else "usage: remi-ops") in result.stdout
