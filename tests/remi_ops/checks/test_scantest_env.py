"""The scan test runs in Remi's clean environment, never in Bubabot's own."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from remi_ops.config_file import parse_settings
from remi_ops.domain import ScanOutcome
from remi_ops.store.database import Store
from remi_ops.testing import FakeClock, RecordingNotifier
from remi_ops.watch.target import TargetWatch

pytestmark = pytest.mark.integration

PRINT_ENV_NAMES = "import os; print(' '.join(sorted(os.environ))); print('scan ok')"


def test_the_scan_test_gets_the_allowlist_and_pass_env_never_discord_token(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "bubabots-own-token")
    monkeypatch.setenv("SOUNDCLOUD_CLIENT_ID", "sc-client-id")
    (tmp_path / "remi").mkdir()
    settings = parse_settings({
        "watchdog": {"state_dir": str(tmp_path / "state")},
        "targets": [{"name": "remi", "workdir": str(tmp_path / "remi"),
                     "command": [sys.executable, "bot.py"],
                     "pass_env": ["SOUNDCLOUD_CLIENT_ID"], "env": {"REMI_MODE": "scan"},
                     "scan_test": {"command": [sys.executable, "-c", PRINT_ENV_NAMES],
                                   "expect_pattern": "scan ok"}}]}, base_dir=tmp_path)
    clock = FakeClock(start=datetime.now(UTC))
    store = Store.open(tmp_path / "store.sqlite3", clock)
    try:
        watch = TargetWatch(settings, settings.targets[0], store=store, clock=clock,
                            notifier=RecordingNotifier())
        result = watch.scan_test()
    finally:
        store.close()
    assert result.outcome is ScanOutcome.PASSED, result.reason
    names = result.output.split("\n")[0].split()
    assert "DISCORD_TOKEN" not in names
    assert {"SOUNDCLOUD_CLIENT_ID", "REMI_MODE", "PATH"} <= set(names)
