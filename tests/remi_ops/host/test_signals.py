"""Signals with real processes: the SIGUSR1 dump request, our own stop signals."""

from __future__ import annotations

from pathlib import Path

import pytest
from bubabot_local.simkit import DUMPABLE, SLEEPER, bot_target
from bubabot_local.simkit import wait_until as wait_for

from remi_ops import host
from remi_ops.domain import ProcessIdentity

pytestmark = pytest.mark.integration


def test_dump_signal_goes_only_to_a_process_that_handles_it(
        tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    """SIGUSR1 would kill a process without a handler, so it is not sent there."""
    dumpable = host.spawn(bot_target(tmp_path / "remi", DUMPABLE))
    plain = host.spawn(bot_target(tmp_path / "plain", SLEEPER))
    spawned.extend([dumpable, plain])
    wait_for((tmp_path / "remi/ready").exists)
    assert host.send_dump_signal(dumpable)
    wait_for(lambda: "most recent call first" in (tmp_path / "remi/bot_error.log").read_text())
    assert host.is_alive(dumpable)
    assert not host.send_dump_signal(plain)
    assert host.is_alive(plain)
