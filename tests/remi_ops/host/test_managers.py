"""The choice of process manager the configuration names."""

from __future__ import annotations

from pathlib import Path

import pytest
from bubabot_local.simkit import direct_target, launchd_target, systemd_target

from remi_ops import host
from remi_ops.host import services

pytestmark = pytest.mark.integration


def test_make_manager_picks_the_configured_kind(tmp_path: Path) -> None:
    direct = host.make_manager(direct_target(tmp_path), tmp_path)
    systemd = host.make_manager(systemd_target(tmp_path), tmp_path)
    launchd = host.make_manager(launchd_target(tmp_path), tmp_path)
    assert isinstance(direct, host.DirectManager)
    assert isinstance(systemd, services.SystemdManager)
    assert isinstance(launchd, services.LaunchdManager)
