"""Spawn and death with real processes: logs, env, session, exit status, wait_exit."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from bubabot_local.simkit import ONE_SHOT, SLEEPER, bot_target, kill_leftovers, start_by_hand

from remi_ops import host
from remi_ops.config import TargetSettings
from remi_ops.domain import ExitInfo, ProcessIdentity
from remi_ops.exceptions import SpawnError

pytestmark = pytest.mark.integration

PY = sys.executable


ENV_REPORTER = """
import json, os, pathlib
pathlib.Path("env.json").write_text(json.dumps({
    "A": os.environ.get("REMI_A"), "B": os.environ.get("REMI_B"),
    "session_leader": os.getsid(0) == os.getpid(), "cwd": os.getcwd()}))
"""


# ---------------------------------------------------------------------- spawn


def test_spawn_appends_stdout_and_stderr_to_their_own_logs(tmp_path: Path) -> None:
    """Each run appends its stdout to stdout_log and its stderr to stderr_log."""
    target = bot_target(tmp_path / "remi", ONE_SHOT, stdout_log="logs/out.log",
                         stderr_log="logs/err.log")
    for _ in range(2):
        ident = host.spawn(target)
        assert host.wait_exit(ident, 5) is not None
    assert (tmp_path / "remi/logs/out.log").read_text() == "out-line\nout-line\n"
    assert (tmp_path / "remi/logs/err.log").read_text() == "err-line\nerr-line\n"


def test_spawn_sets_env_cwd_and_a_session_of_its_own(tmp_path: Path) -> None:
    """env = os.environ + target.env + extra_env; cwd = workdir; own session."""
    target = bot_target(tmp_path / "remi", ENV_REPORTER, env={"REMI_A": "a", "REMI_B": "b"})
    ident = host.spawn(target, {"REMI_B": "override"})
    assert host.wait_exit(ident, 5) is not None
    seen = json.loads((tmp_path / "remi/env.json").read_text())
    assert seen == {"A": "a", "B": "override", "session_leader": True,
                    "cwd": str((tmp_path / "remi").resolve())}


def test_spawn_missing_workdir_is_a_spawn_error(tmp_path: Path) -> None:
    target = TargetSettings(name="remi", workdir=tmp_path / "nope", command=(PY, "bot.py"))
    with pytest.raises(SpawnError, match=r"workdir does not exist: .*nope"):
        host.spawn(target)


@pytest.mark.parametrize("command", [("no-such-program-xyz",), ("./bot.sh",)])
def test_spawn_command_not_found_or_not_executable(tmp_path: Path,
                                                   command: tuple[str, ...]) -> None:
    """A missing program and a file without execute bits both say so."""
    (tmp_path / "bot.sh").write_text("#!/bin/sh\nsleep 60\n")
    target = TargetSettings(name="remi", workdir=tmp_path, command=command)
    with pytest.raises(SpawnError) as info:
        host.spawn(target)
    assert info.value.detail == f"command {command[0]!r} not found or not executable"
    assert info.value.target == "remi"


# ---------------------------------------------------------------------- death


def test_adopted_process_death_is_noticed_within_a_second(tmp_path: Path) -> None:
    bot_target(tmp_path / "remi", SLEEPER)
    try:
        pid = start_by_hand(tmp_path / "remi", PY, "bot.py")
        ident = host.identify(pid)
        assert ident is not None
        results: list[ExitInfo | None] = []
        waiter = threading.Thread(target=lambda: results.append(host.wait_exit(ident, 10)))
        waiter.start()
        time.sleep(0.1)
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        waiter.join(5)
        noticed_after = time.monotonic() - killed_at
        assert noticed_after < 1.0
        [info] = results
        assert info is not None
        assert (info.pid, info.returncode, info.signal, info.known) == (pid, None, None, False)
    finally:
        kill_leftovers(tmp_path)


def test_own_child_killed_by_sigkill_reports_signal_9(
        tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    ident = host.spawn(bot_target(tmp_path / "remi", SLEEPER))
    spawned.append(ident)
    killed_at = time.monotonic()
    os.kill(ident.pid, signal.SIGKILL)
    info = host.wait_exit(ident, 5)
    assert time.monotonic() - killed_at < 1.0
    assert info is not None
    assert (info.pid, info.returncode, info.signal, info.known) == (ident.pid, -9, 9, True)
    assert info.at.tzinfo is not None


def test_own_child_exit_code_is_known(tmp_path: Path) -> None:
    ident = host.spawn(bot_target(tmp_path / "remi", "import sys; sys.exit(78)"))
    info = host.wait_exit(ident, 5)
    assert info is not None
    assert (info.returncode, info.signal) == (78, None)


@pytest.mark.parametrize("own_child", [True, False])
def test_wait_exit_times_out_and_can_be_cancelled(tmp_path: Path,
                                                  spawned: list[ProcessIdentity],
                                                  own_child: bool) -> None:
    """A waiting thread returns None on timeout, at once for 0, and soon after cancel."""
    target = bot_target(tmp_path / "remi", SLEEPER)
    if own_child:
        ident = host.spawn(target)
    else:
        found = host.identify(start_by_hand(tmp_path / "remi", PY, "bot.py"))
        assert found is not None
        ident = found
    spawned.append(ident)
    assert host.wait_exit(ident, 0) is None
    started = time.monotonic()
    assert host.wait_exit(ident, 0.2) is None
    assert 0.2 <= time.monotonic() - started < 0.6
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    started = time.monotonic()
    assert host.wait_exit(ident, None, cancel=cancel) is None
    assert time.monotonic() - started < 0.5
