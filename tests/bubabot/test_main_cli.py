"""``bubabot`` as a command: ``--version``, when local mode runs (asked for, or neither a
token nor a config), where its state goes (per user, never the current directory), and its
own log (``--log-file`` rotated, ``--log-format json``).
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from bubabot_local.settings import local_state_dir
from bubabot_local.simkit import sim_config_file

from bubabot.__main__ import local_mode_wanted, main
from remi_ops.exceptions import ConfigError
from remi_ops.testing import root_logging_restored, wait_until

BUBABOT = str(Path(sys.executable).parent / "bubabot")
CALLER_CONFIG = ("BUBABOT_CONFIG", "BUBABOT_STATE_DIR", "DISCORD_TOKEN", "XDG_CONFIG_HOME",
                 "XDG_STATE_HOME")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home and a current directory of the test's own, no config or token from outside."""
    for name in CALLER_CONFIG:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


@pytest.fixture
def cli_logging() -> Iterator[None]:
    """Put the root logger back as it was after ``main()`` installed its handlers."""
    with root_logging_restored():
        yield


def test_version(tmp_path: Path) -> None:
    done = subprocess.run([BUBABOT, "--version"], capture_output=True, text=True, timeout=60,
                          check=False, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, f"bubabot {version('bubabot')}\n")


# ---------------------------------------------------------------------------- which mode


def args_for(local: bool = False, config: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(local=local, config=config)


@pytest.mark.usefixtures("home")
def test_local_mode_when_asked_or_with_neither_token_nor_config(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = str(sim_config_file(tmp_path))
    assert local_mode_wanted(args_for())  # nothing at all: local mode, as before
    assert local_mode_wanted(args_for(local=True, config=cfg))  # asked for: the file waits
    monkeypatch.setenv("DISCORD_TOKEN", "x")
    assert not local_mode_wanted(args_for(config=cfg))
    assert local_mode_wanted(args_for(local=True))


def test_a_config_without_a_token_is_an_error_not_local_mode(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The operator meant Discord and forgot the token: say so, do not start a simulator."""
    found = home / ".config" / "bubabot" / "bubabot.toml"
    found.parent.mkdir(parents=True)
    found.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError):
        local_mode_wanted(args_for())
    assert main([]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert f"found the configuration {found}" in line and "--local" in line
    assert not (home / ".local").exists()


def test_a_token_without_a_config_lists_the_files_looked_for(
        home: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "x")
    assert main([]) == 2
    err = capsys.readouterr().err
    assert str(home / ".config" / "bubabot" / "bubabot.toml") in err
    assert str(Path.cwd() / "config" / "bubabot.toml") in err


def test_local_state_is_per_user(tmp_path: Path) -> None:
    home = Path.home()
    assert local_state_dir({}) == home / ".local" / "state" / "bubabot" / "local"
    assert local_state_dir({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "bubabot" / "local"
    assert local_state_dir({"BUBABOT_STATE_DIR": "~/x", "XDG_STATE_HOME": str(tmp_path)}) \
        == home / "x"


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_bubabot_local_keeps_its_state_and_log_out_of_the_current_directory(
        tmp_path: Path) -> None:
    """``bubabot --local`` (a config in the checkout notwithstanding): state and its JSON
    log under ~/.local/state/bubabot/local, nothing in the current directory."""
    home, work = tmp_path / "home", tmp_path / "work"
    (work / "config").mkdir(parents=True)
    sim_config_file(work / "config").rename(work / "config" / "bubabot.toml")
    before = sorted(p.relative_to(work) for p in work.rglob("*"))
    env = {k: v for k, v in os.environ.items() if k not in CALLER_CONFIG}
    env |= {"HOME": str(home), "PYTHONUNBUFFERED": "1"}
    out = tmp_path / "out.txt"
    with out.open("w", encoding="utf-8") as sink:
        proc = subprocess.Popen([BUBABOT, "--local", "--no-console", "--log-format", "json"],
                                stdout=sink, stderr=subprocess.STDOUT, cwd=work, env=env)
    state = home / ".local" / "state" / "bubabot" / "local"
    try:
        wait_until(lambda: "started (start, by watchdog)" in out.read_text(encoding="utf-8"),
                   timeout=60, what="the simulator started by local mode")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    shown = out.read_text(encoding="utf-8")
    assert proc.returncode == 0, shown
    assert f"its log in {state / 'bubabot.log'}" in shown and "Traceback" not in shown
    lines = (state / "bubabot.log").read_text(encoding="utf-8").splitlines()
    assert lines and all({"time", "level", "logger", "message"} <= json.loads(line).keys()
                         for line in lines)
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before


# ---------------------------------------------------------------------------- own log


@pytest.mark.usefixtures("cli_logging")
def test_log_file_and_json_in_the_real_mode(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The options reach the handlers before the configuration is read: even the refusal
    of an incomplete config leaves a rotating JSON log behind it."""
    del home
    monkeypatch.setenv("DISCORD_TOKEN", "x")
    cfg, log = sim_config_file(tmp_path), tmp_path / "log" / "bubabot.log"
    assert main(["--config", str(cfg), "--log-file", str(log), "--log-format", "json",
                 "--log-max-bytes", "1000", "--log-keep", "1"]) == 2
    assert "discord.guild_id: required to run against Discord" in capsys.readouterr().err
    for n in range(30):
        logging.getLogger("bubabot.bot").info("posted %d", n, extra={"target": "remi"})
    docs = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert docs[-1]["message"] == "posted 29" and docs[-1]["target"] == "remi"
    assert log.with_name("bubabot.log.1").exists()
    assert not log.with_name("bubabot.log.2").exists()
