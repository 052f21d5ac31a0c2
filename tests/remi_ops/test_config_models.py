"""A model built by keyword, or copied with a change, holds to the file's rules.

msgspec checks types and constraints only while it converts data (a file); a ``Struct``
built by keyword runs just its ``__post_init__``. So that does what reading a file does:
the ranges and patterns, a list given for a tuple, a target's paths resolved against its
workdir, and ``msgspec.structs.replace`` runs it again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from remi_ops.config import (
    DiscordSettings,
    LogSettings,
    RestartPolicy,
    ScanTestSettings,
    Settings,
    TargetSettings,
)
from remi_ops.config_file import parse_settings
from remi_ops.exceptions import ConfigError


@pytest.mark.parametrize(("build", "says"), [
    (lambda: RestartPolicy(jitter=2), "jitter: allowed 0 <= value <= 1; got 2"),
    (lambda: RestartPolicy(budget_window_s=1e308), "budget_window_s: allowed 0 < value"),
    (lambda: RestartPolicy(stop_grace_s=float("nan")), "stop_grace_s: allowed 0 < value"),
    (lambda: DiscordSettings(operator_role_ids=(1, 2**64)),
     "operator_role_ids.1: allowed 0 <= value <= 18446744073709551615"),
    (lambda: TargetSettings(name="Remi", workdir=Path("/srv"), command=("x",)),
     "name: must be lowercase letters"),
    (lambda: TargetSettings(name="r" * 33, workdir=Path("/srv"), command=("x",)),
     "name: must be 1 to 32 characters long; got 33"),
    (lambda: TargetSettings(name="remi", workdir=Path("/srv"), pass_env=("A-B",),
                            command=("x",)), "pass_env.0: must be an environment variable"),
    (lambda: TargetSettings(name="remi", workdir=Path("/srv")),
     "command: required when manager is 'process'"),
    (lambda: ScanTestSettings(expect_pattern="("), "expect_pattern: not a valid regular"),
])
def test_a_model_built_by_keyword_is_held_to_the_files_rules(build: Callable[[], object],
                                                             says: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(says)}"):
        build()


def test_a_target_built_by_keyword_resolves_its_paths_and_makes_lists_tuples(
        tmp_path: Path) -> None:
    target = TargetSettings(name="remi", workdir=str(tmp_path),  # type: ignore[arg-type]
                            command=["python", "bot.py"],  # type: ignore[arg-type]
                            logs=LogSettings(files=(Path("discord.log"),)))
    assert target.workdir == tmp_path
    assert target.command == ("python", "bot.py")
    assert (target.stdout_log, target.beacon_file) == (tmp_path / "bot.log",
                                                       tmp_path / ".remi_beacon.json")
    assert target.logs.files == (tmp_path / "discord.log",)


def test_a_replaced_target_is_resolved_and_checked_again(tmp_path: Path) -> None:
    """``replace`` (pydantic's ``model_copy(update=…)`` copied unchecked) runs
    ``__post_init__``: a relative path is resolved, a broken rule refused."""
    target = TargetSettings(name="remi", workdir=tmp_path, command=("python", "bot.py"))
    moved = msgspec.structs.replace(target, stdout_log=Path("other.log"))
    assert moved.stdout_log == tmp_path / "other.log"
    assert moved.stderr_log == target.stderr_log == tmp_path / "bot_error.log"
    with pytest.raises(ValueError, match=r"^command: required"):
        msgspec.structs.replace(target, command=())
    with pytest.raises(ValueError, match=r"^jitter: allowed"):
        msgspec.structs.replace(target.restart, jitter=-1)


def test_settings_parse_the_way_a_file_is_read(tmp_path: Path) -> None:
    """From data: text becomes a ``Path``, a list a tuple, an int a float; numbers in text
    are read as pydantic's lax mode read them."""
    settings = Settings.parse({
        "watchdog": {"state_dir": str(tmp_path / "state"), "check_interval_s": 5},
        "targets": [{"name": "remi", "workdir": str(tmp_path), "command": ["x"],
                     "restart": {"budget_restarts": "7"}}],
        "discord": {"guild_id": "123"}})
    assert settings.state_dir == tmp_path / "state"
    assert settings.watchdog.check_interval_s == 5.0
    assert settings.target("remi").restart.budget_restarts == 7
    assert settings.discord.guild_id == 123
    assert settings.target(None).stdout_log == tmp_path / "bot.log"


def test_a_model_is_frozen_and_keeps_no_per_instance_dict() -> None:
    """Settings never change under a running watch; and the per-target cost (docs/scale.md
    "## Memory"): slots, no ``__dict__``."""
    policy = RestartPolicy()
    with pytest.raises(AttributeError):
        policy.jitter = 0.5  # type: ignore[misc]  # what this test refuses
    assert not hasattr(policy, "__dict__")


def test_a_refused_file_lists_every_problem_in_the_files_words(tmp_path: Path) -> None:
    """msgspec stops at the first problem; the operator gets each, by key, with what is
    allowed, and never an env value (it may be a secret)."""
    target = {"name": "remi", "workdir": "/srv", "command": ["x"],
              "restart": {"jitter": 2, "bogus": 1, "budget_restarts": "x"},
              "env": {"API_KEY": 12345678, "OK": "fine"}}
    with pytest.raises(ConfigError) as refused:
        parse_settings({"targets": [target], "alerts": {"group_wait_s": -1}},
                       base_dir=tmp_path)
    assert refused.value.problems == (
        "targets[remi].env.API_KEY: must be text, not a whole number",
        "targets[remi].restart.bogus: unknown key",
        "targets[remi].restart.jitter: allowed 0 <= value <= 1; got 2",
        "targets[remi].restart.budget_restarts: must be a whole number, not text",
        "alerts.group_wait_s: allowed 0 <= value <= 86400 (1d 00h); got -1")
