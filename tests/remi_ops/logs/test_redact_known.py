"""Known values (issue 10 item 2): every secret-looking variable of Bubabot's environment,
of the target's env, of the target's dotenv file(s), and of ``secret_env``, by exact value."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from remi_ops.config import TargetSettings
from remi_ops.config_file import load_settings
from remi_ops.logs.known_secrets import MIN_SECRET_LEN, looks_secret, secret_values
from remi_ops.logs.redact import Redactor

ROOT = Path(__file__).resolve().parents[3]


def target(tmp_path: Path, **extra: object) -> TargetSettings:
    return TargetSettings.parse(
        {"name": "remi", "workdir": tmp_path, "command": [sys.executable, "bot.py"], **extra})


@pytest.mark.parametrize("name", [
    "OPENAI_API_KEY", "db_password", "SENTRY_DSN", "session_cookie", "FLASK_SESSION",
    "MYSQL_PWD", "SMTP_PASS", "GITHUB_AUTH", "SLACK_WEBHOOK", "GCP_CREDENTIALS",
    "AWS_SECRET_ACCESS_KEY", "Remi_Token"])
def test_secret_looking_names(name: str) -> None:
    assert looks_secret(name)


@pytest.mark.parametrize("name", ["HOME", "PATH", "LANG", "REMI_GUILD_ID", "LOG_LEVEL", "PWD",
                                  "OLDPWD", "SSH_AUTH_SOCK", "XAUTHORITY", "SSL_CERT_FILE"])
def test_ordinary_names(name: str) -> None:
    assert not looks_secret(name)


def test_every_secret_looking_variable_of_bubabots_environment(tmp_path: Path) -> None:
    """An OPENAI_API_KEY in Bubabot's environment is redacted (it leaked everywhere)."""
    environ = {"OPENAI_API_KEY": "sk-proj-abcdefgh12345678", "HOME": "/home/remi-user",
               "SENTRY_DSN": "https://k3y@o1.ingest.sentry.io/1"}
    values = secret_values(target(tmp_path), environ)
    assert "sk-proj-abcdefgh12345678" in values
    assert "https://k3y@o1.ingest.sentry.io/1" in values
    assert "/home/remi-user" not in values


def test_a_directory_is_never_taken_for_a_secret(tmp_path: Path) -> None:
    """Found using the watcher: ``PWD=/work/main`` blanked every path under the current
    directory out of a stuck stack ("[REDACTED:secret]/local/…"). A working directory, a
    socket or any existing absolute path held by a secret-looking name is not a secret."""
    keys = tmp_path / "keys"
    keys.mkdir()
    environ = {"PWD": str(tmp_path), "OLDPWD": "/usr/local/bin", "KEY_DIR": str(keys),
               "API_KEY": "sk-live-0123456789abcdef"}
    values = secret_values(target(tmp_path), environ)
    assert values == ("sk-live-0123456789abcdef",)


def test_the_targets_env_and_secret_env(tmp_path: Path) -> None:
    t = target(tmp_path, env={"SESSION_SECRET": "s3ss10n-v4lue", "MODE": "production-mode"},
               secret_env=["REMI_GUILD_PRIVATE_THING", "ODD_NAME"])
    values = secret_values(t, {"ODD_NAME": "looks-harmless-but-listed"})
    assert set(values) == {"s3ss10n-v4lue", "looks-harmless-but-listed"}


def test_the_workdirs_dotenv_is_read_by_default(tmp_path: Path) -> None:
    """Remi's own .env: quotes, ``export`` and comments as python-dotenv reads them."""
    (tmp_path / ".env").write_text(
        "# Remi's secrets\n"
        'export DISCORD_TOKEN="MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs"\n'
        "SOUNDCLOUD_CLIENT_SECRET='sc-secret-from-dotenv'\n"
        "OPENAI_API_KEY=sk-dotenv-1234567890 # inline comment\n"
        "LOG_LEVEL=debugging-level\n", encoding="utf-8")
    values = set(secret_values(target(tmp_path), {}))
    assert values == {"MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",
                      "sc-secret-from-dotenv", "sk-dotenv-1234567890"}


def test_configured_env_files_replace_the_default(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("API_KEY=not-read-this-time\n", encoding="utf-8")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "remi.env").write_text("API_KEY=read-from-conf\n", encoding="utf-8")
    t = target(tmp_path, env_files=["conf/remi.env", "missing.env"])
    assert secret_values(t, {}) == ("read-from-conf",)
    assert secret_values(target(tmp_path, env_files=[]), {}) == ()


def test_values_shorter_than_eight_characters_are_not_used(tmp_path: Path) -> None:
    """Too many false hits: "hunter2" would blank every line that says it."""
    assert MIN_SECRET_LEN == 8
    values = secret_values(target(tmp_path), {"DB_PASSWORD": "hunter2", "API_KEY": "12345678"})
    assert values == ("12345678",)
    assert Redactor(["hunter2"])("pw hunter2") == "pw hunter2"


def test_longest_first(tmp_path: Path) -> None:
    values = secret_values(target(tmp_path), {"A_TOKEN": "abcdefgh", "B_TOKEN": "abcdefgh-ijk"})
    assert values == ("abcdefgh-ijk", "abcdefgh")


def test_the_example_config_documents_the_rules() -> None:
    """The example config says what is redacted and that short values are not."""
    text = (ROOT / "config" / "bubabot.example.toml").read_text(encoding="utf-8")
    assert "shorter than 8 characters" in text
    assert "env_files" in text
    tomllib.loads(text)


def test_env_files_is_read_from_toml(tmp_path: Path) -> None:
    cfg = tmp_path / "bubabot.toml"
    cfg.write_text(f'[[targets]]\nname = "remi"\nworkdir = "{tmp_path}"\n'
                   f'command = ["{sys.executable}", "bot.py"]\nenv_files = ["a.env"]\n',
                   encoding="utf-8")
    [t] = load_settings(cfg).targets
    assert t.env_files == (Path("a.env"),)
