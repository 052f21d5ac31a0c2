"""``--env-file``: a service's secrets from a 0600 file; an open or missing file is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from remi_ops.cli.envfile import load_env_file
from remi_ops.cli.main import main
from remi_ops.exceptions import ConfigError


def env_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "env"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_a_private_file_sets_its_variables_over_the_inherited_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUBA_TEST_TOKEN", "from-the-shell")
    monkeypatch.delenv("BUBA_TEST_HOOK", raising=False)
    path = env_file(tmp_path, "# secrets\nexport BUBA_TEST_TOKEN='tok en'\n"
                    "BUBA_TEST_HOOK=https://x/y\nBARE\n")
    assert load_env_file(path) == ["BUBA_TEST_TOKEN", "BUBA_TEST_HOOK"]
    assert os.environ["BUBA_TEST_TOKEN"] == "tok en"
    assert os.environ["BUBA_TEST_HOOK"] == "https://x/y"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_file_others_can_read_is_refused_with_one_line(
        tmp_path: Path, mode: int, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUBA_TEST_TOKEN", raising=False)
    path = env_file(tmp_path, "BUBA_TEST_TOKEN=secret-value\n", mode)
    assert main(["--env-file", str(path), "status"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"config error: --env-file {path}: group or others may read it or write it "
        f"(mode {mode:04o}); it holds secrets: chmod 600 {path}"]
    assert "BUBA_TEST_TOKEN" not in os.environ and "secret-value" not in err


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--env-file .*missing: cannot read"):
        load_env_file(tmp_path / "missing")


def test_no_option_reads_nothing() -> None:
    assert load_env_file(None) == []
