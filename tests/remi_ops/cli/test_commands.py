"""``remi-ops`` as people and scripts use it: exit codes, clear lines, the watcher handshake."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bubabot_local.simkit import sim_config_file, sims_in

from remi_ops.cli.main import main
from remi_ops.durations import parse_duration
from remi_ops.testing import wait_until


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "remi_ops.cli.main", *args], capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900),
                                              ("4h", 14400), ("7d", 604800), ("1.5h", 5400)])
def test_durations(text: str, seconds: float) -> None:
    """Durations read the way people write them."""
    assert parse_duration(text) == seconds


REMI = '[[targets]]\nname="remi"\nworkdir="/tmp"\ncommand=["x"]\n'


@pytest.mark.parametrize(("toml", "expected"), [
    # a key of the wrong type
    ('[watchdog]\ncheck_interval_s = "soon"\n' + REMI,
     "watchdog.check_interval_s: must be a number, not text"),
    ('[[targets]]\nname="remi"\nworkdir="/tmp"\ncommand="python bot.py"\n',
     "targets[remi].command: must be a list, not text"),
    # an unknown key; a missing one
    (REMI + "restartt = 1\n", "targets[remi].restartt: unknown key"),
    ('[[targets]]\nworkdir="/tmp"\ncommand=["x"]\n', "targets[0].name: required"),
    # out of its range; not one of its choices; not matching its pattern; not a regex
    (REMI + "[targets.restart]\njitter = 2\n",
     "targets[remi].restart.jitter: allowed 0 <= value <= 1; got 2"),
    (REMI + 'manager = "docker"\n', "targets[remi].manager: must be one of 'process', "
     "'systemd', 'launchd', 'kubernetes'; got 'docker'"),
    (REMI.replace('"remi"', '"Remi Bot"'), "targets[Remi Bot].name: must be lowercase "
     "letters, digits, _ and -, starting with a letter or digit; got 'Remi Bot'"),
    (REMI + '[targets.scan_test]\nexpect_pattern = "(unclosed"\n',
     "targets[remi].scan_test.expect_pattern: not a valid regular expression"),
    # the rules across keys
    ('[[targets]]\nname="remi"\nworkdir="/tmp"\nmanager="systemd"\n',
     "targets[remi].unit: required when manager is 'systemd'"),
    (REMI + "[targets.restart]\nbackoff_initial_s = 60\nbackoff_max_s = 30\n",
     "targets[remi].restart: backoff_max_s must be >= backoff_initial_s"),
    (REMI + REMI.replace('["x"]', '["y"]'), "(file): target names must be unique (repeated: "
     "remi)"),
    ("[watchdog]\ncheck_interval_s = 600\nheartbeat_stale_s = 300\n" + REMI,
     "watchdog.heartbeat_stale_s: must be more than check_interval_s"),
    ("[metrics]\nlisten = \"9808\"\n" + REMI,
     "metrics.listen: must be host:port, e.g. 127.0.0.1:9808"),
    ("[discord]\nguild_id = -1\n" + REMI,
     "discord.guild_id: allowed 0 <= value <= 18446744073709551615; got -1"),
    ("", "targets: required"),
    ('[discord]\ntoken="abc"\n[[targets]]\nname="remi"\nworkdir="/tmp"\ncommand=["x"]\n',
     "discord.token: secrets come from the environment"),
    ("this is [not toml", "not valid TOML"),
])
def test_a_broken_config_exits_2_naming_the_field(tmp_path: Path, toml: str, expected: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A bad config is one clear line per problem and exit code 2, never a traceback."""
    path = tmp_path / "bad.toml"
    path.write_text(toml, encoding="utf-8")
    assert main(["--config", str(path), "status"]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_unknown_target_is_a_usage_error(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Naming a target that is not configured exits 2 and lists the real ones."""
    cfg = sim_config_file(tmp_path)
    assert main(["--config", str(cfg), "health", "--target", "nope"]) == 2
    assert "configured: remi" in capsys.readouterr().err


def test_missing_config_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", "/nonexistent/bubabot.toml", "status"]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.integration
@pytest.mark.usefixtures("reap_sims")
def test_health_contract_and_the_watcher_handshake(tmp_path: Path) -> None:
    """health exits 1 when down, 0 when a watched Remi is healthy; restart asks the watcher."""
    cfg = sim_config_file(tmp_path)
    down = run("--config", str(cfg), "health")
    assert down.returncode == 1 and "not running" in down.stdout
    watcher = subprocess.Popen([sys.executable, "-m", "remi_ops.cli.main", "--config", str(cfg),
                                "watch"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workdir = tmp_path / "remi"
        first = wait_until(lambda: sims_in(workdir), timeout=15, what="remi started")[0].pid
        time.sleep(1.5)
        healthy = run("--config", str(cfg), "health", "--json")
        assert healthy.returncode == 0, healthy.stdout
        assert json.loads(healthy.stdout)[0]["status"] == "healthy"
        second_watcher = run("--config", str(cfg), "watch")
        assert second_watcher.returncode == 1 and "already watched" in second_watcher.stderr
        restarted = run("--config", str(cfg), "restart", "--reason", "cli test")
        assert restarted.returncode == 0 and "restarted" in restarted.stdout
        after = [p.pid for p in sims_in(workdir)]
        assert len(after) == 1 and after[0] != first
        status = run("--config", str(cfg), "status", "--json")
        assert json.loads(status.stdout)[0]["watched"] is True
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(20)
    assert watcher.returncode == 0


@pytest.mark.integration
@pytest.mark.usefixtures("reap_sims")
def test_scan_test_errors_and_history(tmp_path: Path) -> None:
    """scan-test exits by its outcome and records it; errors/history read the store."""
    cfg = sim_config_file(tmp_path)
    ok = run("--config", str(cfg), "scan-test", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["outcome"] == "passed"
    (tmp_path / "remi" / ".remi_sim_state.json").write_text('{"scan_mode": "fail"}')
    failed = run("--config", str(cfg), "scan-test")
    assert failed.returncode == 1 and "NameError" in failed.stdout
    assert run("--config", str(cfg), "errors", "--json").returncode == 0
    history = run("--config", str(cfg), "history")
    assert history.returncode == 0


def test_silence_and_alerts_without_a_watcher(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Silences are stored with their end, listed by `alerts`, and capped at 7 days."""
    cfg = sim_config_file(tmp_path)
    assert main(["--config", str(cfg), "silence", "target=remi,kind=error_group", "2h",
                 "--reason", "noisy deploy"]) == 0
    assert main(["--config", str(cfg), "alerts", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert doc["silences"][0]["comment"] == "noisy deploy"
    assert main(["--config", str(cfg), "silence", "target=remi", "8d", "--reason", "x"]) == 2
