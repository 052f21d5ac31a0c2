"""The store-free failure line: one per cause, however many steps that cause breaks."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from remi_ops.clock import FakeClock
from remi_ops.watch.fallback import FallbackAlerts


def lines(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]


def test_one_cause_breaking_two_steps_is_one_line(tmp_path: Path) -> None:
    alerts = FallbackAlerts("remi", tmp_path / ".bot_alert", FakeClock())
    damaged = sqlite3.DatabaseError("database disk image is malformed")
    alerts.report("reading the log after an exit", damaged, str(damaged))
    alerts.report("recording", damaged, str(damaged))
    alerts.report("recording", damaged, str(damaged))
    [line] = lines(alerts.alert_file)
    assert line["where"] == "reading the log after an exit"
    assert "database disk image is malformed" in line["message"]


def test_a_cause_is_news_again_only_once_every_step_it_broke_works(tmp_path: Path) -> None:
    alerts = FallbackAlerts("remi", tmp_path / ".bot_alert", FakeClock())
    full = OSError(28, "No space left on device")
    alerts.report("recording", full, str(full))
    alerts.report("restart", full, str(full))
    alerts.recovered("recording")  # the restart still fails: nothing new to say
    alerts.report("recording", full, str(full))
    assert len(lines(alerts.alert_file)) == 1
    alerts.recovered("recording", "restart")
    alerts.report("restart", full, str(full))
    assert [line["where"] for line in lines(alerts.alert_file)] == ["recording", "restart"]


def test_another_cause_is_its_own_line(tmp_path: Path) -> None:
    alerts = FallbackAlerts("remi", tmp_path / ".bot_alert", FakeClock())
    alerts.report("recording", OSError(28, "full"), "full")
    alerts.report("recording", PermissionError(13, "denied"), "denied")
    assert len(lines(alerts.alert_file)) == 2
