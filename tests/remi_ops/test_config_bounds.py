"""Every number in the config has a range: out of it is exit 2 naming the field and the range."""

from __future__ import annotations

import math
import random
import typing
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from remi_ops.cli.main import main
from remi_ops.config import (
    AlertSettings,
    DiscordSettings,
    HealthSettings,
    LogSettings,
    RestartPolicy,
    ScanTestSettings,
    Settings,
    TargetSettings,
    WatchdogSettings,
)
from remi_ops.config_bounds import MAX_SNOWFLAKE, within_of
from remi_ops.config_file import load_settings, parse_settings
from remi_ops.exceptions import ConfigError
from remi_ops.supervision.supervisor import Supervisor

ROOT = Path(__file__).resolve().parents[2]
H, D = 3600, 86400
SNOW = MAX_SNOWFLAKE
#: (section, field, the largest value allowed, a value just below the range, just above it)
BOUNDS: list[tuple[str, str, float, float, float]] = [
    ("watchdog", "check_interval_s", H, 0, H + 1),
    ("watchdog", "heartbeat_stale_s", D, 0, D + 1),
    ("watchdog", "heartbeat_timeout_s", 60, 0, 61),
    ("logs", "max_bytes", 1024**4, -1, 1024**4 + 1),
    ("logs", "keep", 100, 0, 101),
    ("restart", "immediate_delay_s", H, -1, H + 1),
    ("restart", "backoff_initial_s", H, 0, H + 1),
    ("restart", "backoff_factor", 10, 0, 11),
    ("restart", "backoff_max_s", D, 0, D + 1),
    ("restart", "jitter", 1, -1, 2),
    ("restart", "stable_after_s", D, 0, D + 1),
    ("restart", "start_seconds", H, -1, H + 1),
    ("restart", "budget_restarts", 1000, 0, 1001),
    ("restart", "budget_window_s", 30 * D, 0, 30 * D + 1),
    ("restart", "gave_up_retry_s", D, 0, D + 1),
    ("restart", "no_restart_exit_codes", 255, -1, 256),
    ("restart", "stop_grace_s", H, 0, H + 1),
    ("health", "cpu_percent_max", 102400, 0, 102401),
    ("health", "rss_mb_max", 1048576, 0, 1048577),
    ("health", "sustained_checks", 1000, 0, 1001),
    ("health", "hang_threshold_s", D, 0, D + 1),
    ("health", "recent_errors_s", D, 0, D + 1),
    ("health", "beacon_stale_s", D, 0, D + 1),
    ("health", "error_burst", 1_000_000, 0, 1_000_001),
    ("health", "initial_read_bytes", 1024**3, 0, 1024**3 + 1),
    ("scan_test", "timeout_s", H, 0, H + 1),
    ("scan_test", "expect_exit_code", 255, -1, 256),
    ("scan_test", "latency_budget_s", H, 0, H + 1),
    ("alerts", "for_checks", 1000, 0, 1001),
    ("alerts", "group_wait_s", D, -1, D + 1),
    ("alerts", "group_interval_s", D, -1, D + 1),
    ("alerts", "repeat_interval_s", 30 * D, 0, 30 * D + 1),
    ("alerts", "keep_firing_for_s", D, -1, D + 1),
    ("alerts", "flap_changes", 1000, 0, 1001),
    ("alerts", "flap_window_s", 30 * D, 0, 30 * D + 1),
    ("alerts", "silence_max_s", 30 * D, 0, 30 * D + 1),
    ("alerts", "retry_initial_s", H, 0, H + 1),
    ("alerts", "retry_max_s", D, 0, D + 1),
    ("discord", "guild_id", SNOW, -1, SNOW + 1),
    ("discord", "alert_channel_id", SNOW, -1, SNOW + 1),
    ("discord", "operator_role_ids", SNOW, -1, SNOW + 1),
    ("discord", "viewer_role_ids", SNOW, -1, SNOW + 1),
    ("discord", "oncall_role_id", SNOW, -1, SNOW + 1),
    ("discord", "allowed_channel_ids", SNOW, -1, SNOW + 1),
    ("discord", "confirm_timeout_s", 900, 0, 901),
    ("target", "rollout_timeout_s", H, 0, H + 1),
]
SECTIONS: dict[str, type[msgspec.Struct]] = {
    "watchdog": WatchdogSettings, "restart": RestartPolicy, "health": HealthSettings,
    "scan_test": ScanTestSettings, "logs": LogSettings, "alerts": AlertSettings,
    "discord": DiscordSettings, "target": TargetSettings}
TARGET_SECTIONS = ("restart", "health", "scan_test", "logs")
LISTS = {"no_restart_exit_codes", "operator_role_ids", "viewer_role_ids", "allowed_channel_ids"}


def raw_with(section: str, field: str, value: float) -> dict[str, Any]:
    """A minimal config with ``value`` at ``section.field`` (in a list where the field is one)."""
    target: dict[str, Any] = {"name": "remi", "workdir": "/tmp", "command": ["x"]}
    raw: dict[str, Any] = {"targets": [target]}
    item = [value] if field in LISTS else value
    if section == "target":  # a field of [[targets]] itself
        target[field] = item
    elif section in TARGET_SECTIONS:
        target[section] = {field: item}
    else:
        raw[section] = {field: item}
        if section == "watchdog" and field == "check_interval_s" and value <= H:
            raw[section]["heartbeat_stale_s"] = D  # the heartbeat must outlive a check
    return raw


def field_path(section: str, field: str) -> str:
    prefix = f"targets[remi].{section}" if section in TARGET_SECTIONS \
        else "targets[remi]" if section == "target" else section
    return f"{prefix}.{field}" + (".0" if field in LISTS else "")


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, base_dir=Path("/tmp"))
    return list(caught.value.problems)


@pytest.mark.parametrize(("section", "field", "high", "too_low", "too_high"), BOUNDS)
def test_out_of_range_is_refused_naming_the_field_and_range(
        section: str, field: str, high: float, too_low: float, too_high: float) -> None:
    """Just below and just above the range: refused, the field and the allowed range named."""
    for bad in (too_low, too_high):
        found = problems(raw_with(section, field, bad))
        line = next((p for p in found if p.startswith(field_path(section, field) + ": ")), "")
        assert "allowed " in line and "value <=" in line and f"got {bad!r}" in line, found


@pytest.mark.parametrize(("section", "field", "high", "too_low", "too_high"), BOUNDS)
def test_the_largest_allowed_value_loads(section: str, field: str, high: float,
                                         too_low: float, too_high: float) -> None:
    """The top of each range is accepted: the bound is where the table says it is."""
    del too_low, too_high
    raw = raw_with(section, field, high)
    if section == "restart" and field == "backoff_initial_s":
        raw["targets"][0]["restart"]["backoff_max_s"] = high
    if section == "watchdog" and field == "heartbeat_stale_s":
        raw["watchdog"]["check_interval_s"] = 60
    assert isinstance(parse_settings(raw, base_dir=Path("/tmp")), Settings)


@pytest.mark.parametrize("text", ["inf", "nan", "-inf", "1e308"])
def test_infinity_nan_and_huge_numbers_are_refused(text: str) -> None:
    """TOML's inf and nan, and the 1e308 that once killed the watcher, are out of every range."""
    found = problems(raw_with("restart", "budget_window_s", float(text)))
    assert any(p.startswith("targets[remi].restart.budget_window_s: allowed") for p in found)


def test_every_numeric_field_has_a_range_in_the_table() -> None:
    """A new number without a bound (or without a row here) fails this test."""
    covered, seen = {(s, f) for s, f, *_ in BOUNDS}, set()
    for section, model in SECTIONS.items():
        for field in msgspec.structs.fields(model):
            if not _is_numeric(field.type):
                continue
            seen.add((section, field.name))
            assert (section, field.name) in covered, f"{section}.{field.name} has no row in BOUNDS"
            assert within_of(field.type) is not None, f"{section}.{field.name} unbounded"
    assert seen == covered  # every row is a field still


def _is_numeric(annotation: Any) -> bool:
    if annotation in (int, float):
        return True
    return any(_is_numeric(arg) for arg in typing.get_args(annotation))


def test_heartbeat_must_outlive_a_check() -> None:
    """A heartbeat refreshed once per check cannot be stale sooner than a check comes round."""
    raw = raw_with("watchdog", "check_interval_s", 600)
    raw["watchdog"]["heartbeat_stale_s"] = 300
    assert any(p.startswith("watchdog.heartbeat_stale_s: must be more than check_interval_s")
               for p in problems(raw))


def test_a_broken_number_exits_2_through_the_cli(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's own case: budget_window_s = 1e308 is one line and exit 2, no traceback."""
    path = tmp_path / "bad.toml"
    path.write_text('[[targets]]\nname="remi"\nworkdir="/tmp"\ncommand=["x"]\n'
                    "[targets.restart]\nbudget_window_s = 1e308\n", encoding="utf-8")
    assert main(["--config", str(path), "status"]) == 2
    err = capsys.readouterr().err
    assert "targets[remi].restart.budget_window_s: allowed 0 < value <= 2592000" in err
    assert "Traceback" not in err


def test_the_example_config_loads() -> None:
    """The shipped example is inside every range."""
    settings = load_settings(ROOT / "config" / "bubabot.example.toml")
    assert settings.targets[0].name == "remi"


def test_the_largest_values_never_overflow_the_arithmetic_they_feed() -> None:
    """Windows become timedeltas and the backoff grows by powers: neither may overflow."""
    for section, field, high, *_ in BOUNDS:
        if field.endswith("_s"):
            assert timedelta(seconds=high) > timedelta(0), f"{section}.{field}"
    policy = RestartPolicy(backoff_initial_s=H, backoff_factor=10, backoff_max_s=D, jitter=0)
    sup = Supervisor("remi", policy, rng=random.Random(1))
    delays = [sup.next_delay(stable=False) for _ in range(1000)]
    assert delays[-1] == D and all(math.isfinite(d) for d in delays)
