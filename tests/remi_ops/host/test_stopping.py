"""Stopping the whole tree with real processes and signals."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import psutil
import pytest
from bubabot_local.simkit import (
    SLEEPER,
    TERM_IGNORER,
    TREE,
    bot_target,
    gone,
    kill_leftovers,
    start_by_hand,
)

from remi_ops import host
from remi_ops.domain import ProcessIdentity
from remi_ops.exceptions import ProcessError
from remi_ops.testing import wait_until as wait_for

pytestmark = pytest.mark.integration

PY = sys.executable


def test_stop_a_cooperative_process(tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    ident = host.spawn(bot_target(tmp_path / "remi", SLEEPER))
    spawned.append(ident)
    result = host.stop(ident, 5)
    assert (result.stopped, result.killed, result.survivors) == (True, False, ())
    assert result.duration_s < 2
    assert not host.is_alive(ident)
    info = host.wait_exit(ident, 1)
    assert info is not None
    assert info.signal == signal.SIGTERM


def test_stop_of_a_dead_child_is_a_no_op_that_keeps_its_exit_status(tmp_path: Path) -> None:
    ident = host.spawn(bot_target(tmp_path / "remi", SLEEPER))
    os.kill(ident.pid, signal.SIGKILL)
    wait_for(lambda: gone(ident.pid))
    result = host.stop(ident, 1)
    assert (result.stopped, result.killed) == (False, False)
    info = host.wait_exit(ident, 1)
    assert info is not None
    assert info.signal == signal.SIGKILL


def test_stop_a_sigstopped_process(tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    """SIGCONT first: a stopped process cannot act on SIGTERM, and needs no SIGKILL."""
    ident = host.spawn(bot_target(tmp_path / "remi", SLEEPER))
    spawned.append(ident)
    os.kill(ident.pid, signal.SIGSTOP)
    wait_for(lambda: psutil.Process(ident.pid).status() == psutil.STATUS_STOPPED)
    result = host.stop(ident, 5)
    assert (result.stopped, result.killed) == (True, False)
    assert gone(ident.pid)


def test_stop_kills_a_term_ignoring_process_after_grace(
        tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    ident = host.spawn(bot_target(tmp_path / "remi", TERM_IGNORER))
    spawned.append(ident)
    wait_for((tmp_path / "remi/ready").exists)
    result = host.stop(ident, 0.5)
    assert (result.stopped, result.killed) == (True, True)
    assert 0.5 <= result.duration_s < 3
    info = host.wait_exit(ident, 1)
    assert info is not None
    assert info.signal == signal.SIGKILL


@pytest.mark.parametrize("mode", ["same-session", "escape"])
def test_stop_takes_the_grandchild_too(tmp_path: Path, spawned: list[ProcessIdentity],
                                       mode: str) -> None:
    """Grandchildren die with the target, even one that left the session."""
    ident = host.spawn(bot_target(tmp_path / "remi", TREE, mode))
    spawned.append(ident)
    pidfile = tmp_path / "remi/grandchild.pid"
    wait_for(pidfile.exists)
    grandchild = int(pidfile.read_text())
    assert not gone(grandchild)
    host.stop(ident, 2)
    assert gone(grandchild)
    assert gone(ident.pid)


def test_stop_an_adopted_process_and_its_session(tmp_path: Path) -> None:
    """A process we did not start is stopped with its tree, found through its session."""
    bot_target(tmp_path / "remi", TREE)
    try:
        pid = start_by_hand(tmp_path / "remi", PY, "bot.py")
        wait_for((tmp_path / "remi/grandchild.pid").exists)
        grandchild = int((tmp_path / "remi/grandchild.pid").read_text())
        ident = host.identify(pid)
        assert ident is not None
        result = host.stop(ident, 2)
        assert result.stopped
        assert gone(pid)
        assert gone(grandchild)
    finally:
        kill_leftovers(tmp_path)


def test_stop_without_permission_is_a_process_error(
        tmp_path: Path, spawned: list[ProcessIdentity], monkeypatch: pytest.MonkeyPatch) -> None:
    ident = host.spawn(bot_target(tmp_path / "remi", SLEEPER))
    spawned.append(ident)

    def denied(self: psutil.Process, sig: int) -> None:
        raise psutil.AccessDenied(self.pid)

    with monkeypatch.context() as patch:
        patch.setattr(psutil.Process, "send_signal", denied)
        with pytest.raises(ProcessError) as info:
            host.stop(ident, 0.2, target_name="remi")
    assert info.value.target == "remi"
    assert info.value.detail == f"permission denied sending SIGCONT to pid {ident.pid}"
    assert host.is_alive(ident)
