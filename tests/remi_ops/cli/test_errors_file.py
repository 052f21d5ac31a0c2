"""``remi-ops errors --file LOG``: a whole log read into error groups, redacted, not stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bubabot_local.simkit import sim_config_file

from remi_ops.cli.main import main

SAMPLE = Path(__file__).parents[2] / "data" / "logs" / "incident_plain.log"
SECRET = "sc-secret-4f9a2b7c1d"


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = sim_config_file(tmp_path)
    text = path.read_text(encoding="utf-8")  # a secret of the target's, to be redacted
    path.write_text(text.replace('[targets.restart]', 'env = { SOUNDCLOUD_CLIENT_SECRET = '
                                 f'"{SECRET}" }}\n\n[targets.restart]'), encoding="utf-8")
    return path


def test_the_incident_log_reads_as_its_three_groups(
        cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(cfg), "errors", "--file", str(SAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "NameError: name 'asyncio' is not defined" in out
    assert "heartbeat blocked for more than 850 seconds" in out
    assert len(out.splitlines()) == 3


def test_a_secret_in_the_file_never_reaches_the_output(
        cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "bot_error.log"
    log.write_text(SAMPLE.read_text(encoding="utf-8") + (
        "2026-01-24 03:20:00 ERROR    remi.scoring: SoundCloud refused "
        f"client_secret={SECRET}\n"), encoding="utf-8")
    assert main(["errors", "--file", str(log), "--json", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    groups = json.loads(out)
    assert any("SoundCloud refused" in g["title"] for g in groups)
    assert SECRET not in out


def test_nothing_is_stored(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(cfg), "errors", "--file", str(SAMPLE)]) == 0
    capsys.readouterr()
    assert main(["--config", str(cfg), "errors", "--since", "all"]) == 0
    assert capsys.readouterr().out.strip() == "no errors recorded"


def test_a_missing_file_is_a_usage_error(
        cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(cfg), "errors", "--file", str(tmp_path / "nope.log")]) == 2
    assert "not a file" in capsys.readouterr().err
