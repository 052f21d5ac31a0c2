"""The small tools people expect of ``remi-ops``: ``--version``, ``config check``/``init``,
options before or after the subcommand, the no-config message, its own log (json, rotated).

Through the real entry points: the installed ``remi-ops`` script in a child process (with
HOME, XDG and the current directory pointed at ``tmp_path``), or ``main(argv)``.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from bubabot_local.simkit import sim_config_file

from remi_ops.cli.main import main
from remi_ops.config_file import example_config
from remi_ops.testing import root_logging_restored

REMI_OPS = str(Path(sys.executable).parent / "remi-ops")
ROOT = Path(__file__).resolve().parents[3]


def remi_ops(*args: str, home: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed ``remi-ops`` with a home of its own and no config from the caller."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"BUBABOT_CONFIG", "XDG_CONFIG_HOME", "XDG_STATE_HOME"}}
    env["HOME"] = str(home)
    work = cwd or home
    for directory in (home, work):
        directory.mkdir(parents=True, exist_ok=True)
    return subprocess.run([REMI_OPS, *args], capture_output=True, text=True, timeout=60,
                          check=False, cwd=work, env=env)


@pytest.fixture
def cli_logging() -> Iterator[None]:
    """Put the root logger back as it was after ``main()`` installed its handlers."""
    with root_logging_restored():
        yield


# ---------------------------------------------------------------------------- --version


def test_version_is_the_installed_distributions(tmp_path: Path) -> None:
    done = remi_ops("--version", home=tmp_path)
    assert (done.returncode, done.stdout) == (0, f"remi-ops {version('bubabot')}\n")


# ---------------------------------------------------------------------------- no config


def test_no_config_found_names_the_files_looked_for_and_creates_nothing(
        tmp_path: Path) -> None:
    """Not a silent simulator under ./.state: exit 2, the places it looked, how to make one."""
    home, work = tmp_path / "home", tmp_path / "work"
    done = remi_ops("status", home=home, cwd=work)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert "no configuration found" in line and "remi-ops config init" in line
    assert str(work / "config" / "bubabot.toml") in line
    assert str(home / ".config" / "bubabot" / "bubabot.toml") in line
    assert list(work.iterdir()) == [] and list(home.iterdir()) == []


def test_xdg_config_home_is_where_it_looks(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("BUBABOT_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    assert main(["health"]) == 2
    assert str(tmp_path / "xdg" / "bubabot" / "bubabot.toml") in capsys.readouterr().err


# ---------------------------------------------------------------------------- options


@pytest.mark.parametrize("argv", [
    ["--json", "--config", "{cfg}", "status"],
    ["status", "--json", "--config", "{cfg}"],
    ["--config", "{cfg}", "status", "--json"],
    ["--json", "status", "--config", "{cfg}"],
])
def test_global_options_go_before_or_after_the_subcommand(
        tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    cfg = str(sim_config_file(tmp_path))
    assert main([a.replace("{cfg}", cfg) for a in argv]) == 1  # the simulator is not running
    [doc] = json.loads(capsys.readouterr().out)
    assert (doc["target"], doc["running"]) == ("remi", False)


@pytest.mark.parametrize("argv", [["watch", "--config", "{cfg}"],
                                  ["--config", "{cfg}", "watch"]])
def test_watch_reads_the_config_wherever_it_is_given(
        tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "x.toml")
    assert main([a.replace("{cfg}", missing) for a in argv]) == 2
    assert f"{missing}: cannot read" in capsys.readouterr().err


def test_a_target_given_before_the_subcommand_is_used(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = str(sim_config_file(tmp_path))
    assert main(["--target", "nope", "--config", cfg, "status"]) == 2
    assert "configured: remi" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "said"), [
    (["--target", "remi", "watch"], "--target does not apply to `watch`"),
    (["--json", "watch"], "--json does not apply to `watch`"),
    (["--target", "remi", "silence", "target=remi", "1h", "--reason", "x"],
     "--target does not apply to `silence`"),
])
def test_an_option_that_does_not_apply_is_a_usage_error(
        argv: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``--target remi watch`` would watch every target: refused, not ignored."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and said in capsys.readouterr().err


# ---------------------------------------------------------------------------- config


def test_config_init_then_check(tmp_path: Path) -> None:
    """The example lands in the per-user file, private; check finds it there on its own."""
    home = tmp_path / "home"
    written = home / ".config" / "bubabot" / "bubabot.toml"
    done = remi_ops("config", "init", home=home)
    assert done.returncode == 0, done.stderr
    assert f"wrote {written}" in done.stdout and "remi-ops config check" in done.stdout
    assert written.read_text(encoding="utf-8") == example_config()
    assert stat.S_IMODE(written.stat().st_mode) == 0o600

    checked = remi_ops("config", "check", home=home)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == f"config ok: {written} (1 target: remi)\n"
    # the example's workdir is the operator's to fill in: a warning, not a failure
    assert f"warning: targets[remi].workdir: {home}/projects/remix-sniper does not exist" \
        in checked.stderr


def test_config_init_never_overwrites_without_force(tmp_path: Path) -> None:
    home = tmp_path / "home"
    mine = home / "mine.toml"
    mine.parent.mkdir(parents=True)
    mine.write_text("# my edits\n", encoding="utf-8")
    refused = remi_ops("config", "init", str(mine), home=home)
    assert refused.returncode == 2 and "exists; not overwritten (--force" in refused.stderr
    assert mine.read_text(encoding="utf-8") == "# my edits\n"

    forced = remi_ops("config", "init", str(mine), "--force", home=home)
    assert forced.returncode == 0, forced.stderr
    assert mine.read_text(encoding="utf-8") == example_config()
    # not a place remi-ops looks on its own: the next steps say how to point at it
    assert f"remi-ops --config {mine} config check" in forced.stdout


def test_config_check_names_the_file_and_every_problem(tmp_path: Path) -> None:
    cfg = sim_config_file(tmp_path, extra="[alerts]\ngroup_wait_s = -1\nbogus = 1\n")
    done = remi_ops("--config", str(cfg), "config", "check", home=tmp_path / "home")
    assert done.returncode == 2
    assert "config error: alerts.bogus: unknown key" in done.stderr
    assert "config error: alerts.group_wait_s:" in done.stderr
    assert done.stderr.splitlines()[-1] == f"config invalid: {cfg} (2 problems)"
    assert "Traceback" not in done.stderr


def test_config_check_warns_about_a_program_that_is_not_there(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = sim_config_file(tmp_path)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        f'command = ["{sys.executable}"', 'command = ["venv/bin/python"', 1), encoding="utf-8")
    assert main(["config", "check", "--config", str(cfg), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and doc["targets"] == ["remi"]
    assert f"targets[remi].command: venv/bin/python not found (on PATH, or in " \
        f"{tmp_path / 'remi'})" in doc["warnings"]


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_the_wheel_ships_the_example_config(tmp_path: Path) -> None:
    """Built from a copy of the sources as pip would, so pyproject's package-data is what
    decides; ``config init`` reads the example from the installed package."""
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("remi_ops", "bubabot"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps",
                            "--quiet", "-w", str(tmp_path / "dist")],
                           capture_output=True, text=True, timeout=170, check=False)
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("bubabot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("remi_ops/bubabot.example.toml").decode("utf-8")
    assert shipped == example_config()


# ---------------------------------------------------------------------------- own log


@pytest.mark.usefixtures("cli_logging")
def test_log_format_json_is_one_object_per_line_with_the_target_as_a_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = str(sim_config_file(tmp_path))
    assert main(["status", "--config", cfg, "--log-format", "json"]) == 1
    capsys.readouterr()
    logging.getLogger("remi_ops.watch").warning("remi: %s", "restarting",
                                                extra={"target": "remi"})
    [line] = capsys.readouterr().err.splitlines()
    doc = json.loads(line)
    assert {k: doc[k] for k in ("level", "logger", "message", "target")} == {
        "level": "WARNING", "logger": "remi_ops.watch", "message": "remi: restarting",
        "target": "remi"}
    assert doc["time"].endswith("+00:00")


@pytest.mark.usefixtures("cli_logging")
def test_text_format_shows_the_target_as_a_prefix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = str(sim_config_file(tmp_path))
    assert main(["--config", cfg, "status"]) == 1
    capsys.readouterr()
    logging.getLogger("remi_ops.watch").warning("restarting", extra={"target": "remi"})
    logging.getLogger("remi_ops.watch").warning("no target here")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith(" WARNING remi_ops.watch: [remi] restarting")
    assert lines[1].endswith(" WARNING remi_ops.watch: no target here")


@pytest.mark.usefixtures("cli_logging")
def test_log_file_rotates_by_size_keeping_what_was_asked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing lost between the files kept, nothing past ``--log-keep``; the terminal then
    shows only warnings."""
    cfg, log = str(sim_config_file(tmp_path)), tmp_path / "logs" / "remi-ops.log"
    assert main(["--log-file", str(log), "--log-format", "json", "status", "--config", cfg,
                 "--log-max-bytes", "2000", "--log-keep", "2"]) == 1
    for n in range(200):
        logging.getLogger("remi_ops.watch").info("check %d", n, extra={"target": "remi"})
    assert capsys.readouterr().err == ""
    kept = [log.with_name(f"remi-ops.log.{i}") for i in (2, 1)] + [log]
    assert all(p.stat().st_size <= 2000 for p in kept)
    assert not log.with_name("remi-ops.log.3").exists()
    numbers = [int(json.loads(line)["message"].split()[1])
               for p in kept for line in p.read_text(encoding="utf-8").splitlines()]
    assert numbers == list(range(numbers[0], 200)) and numbers[0] > 0


def test_a_log_file_that_cannot_be_written_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert main(["status", "--log-file", str(blocker / "x.log")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"remi-ops: --log-file {blocker / 'x.log'}: cannot write (")
    assert len(err.splitlines()) == 1
