"""The direct manager with real processes: start, find, stop, restart, pidfile hint."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest
from bubabot_local.simkit import direct_target, gone, start_by_hand, write_bot

from remi_ops import host
from remi_ops.exceptions import SpawnError, WorkdirMissing

pytestmark = pytest.mark.integration

PY = sys.executable


def test_direct_start_writes_the_pidfile_and_never_duplicates(tmp_path: Path) -> None:
    manager = host.DirectManager(direct_target(write_bot(tmp_path / "remi")),
                                    tmp_path / "state")
    ident = manager.start()
    try:
        assert json.loads(manager.pidfile.read_text())["pid"] == ident.pid
        assert manager.find() == [ident]
        assert manager.start() == ident  # already running: adopted, not started again
        assert manager.find() == [ident]
        snap = manager.snapshot(ident)
        assert snap is not None
        assert snap.identity == ident
    finally:
        manager.stop(ident, 2)
    assert not manager.pidfile.exists()
    info = manager.wait_exit(ident, 1)
    assert info is not None
    assert info.signal == signal.SIGTERM


def test_direct_restart_replaces_the_process(tmp_path: Path) -> None:
    manager = host.DirectManager(direct_target(write_bot(tmp_path / "remi")),
                                    tmp_path / "state")
    old = manager.start()
    new = manager.restart(old, 2)
    try:
        assert new.pid != old.pid
        assert gone(old.pid)
        assert manager.find() == [new]
        assert json.loads(manager.pidfile.read_text())["pid"] == new.pid
    finally:
        manager.stop(None, 2)


def test_direct_stop_all_copies_but_never_the_decoy(tmp_path: Path) -> None:
    """Duplicates are reported; a stop of the target never touches the same cmdline elsewhere."""
    workdir = write_bot(tmp_path / "remi")
    decoy_dir = write_bot(tmp_path / "decoy")
    manager = host.DirectManager(direct_target(workdir), tmp_path / "state")
    ours = manager.start()
    by_hand = start_by_hand(workdir, PY, "bot.py")
    decoy = start_by_hand(decoy_dir, PY, "bot.py")
    assert [i.pid for i in manager.find()] == [ours.pid, by_hand]
    result = manager.stop(None, 2)
    assert (result.stopped, result.killed) == (True, False)
    assert gone(ours.pid)
    assert gone(by_hand)
    assert not gone(decoy)
    assert manager.find() == []
    assert manager.stop(None, 2).stopped is False


def test_direct_find_prefers_the_pidfile_hint_and_ignores_garbage(tmp_path: Path) -> None:
    workdir = write_bot(tmp_path / "remi")
    manager = host.DirectManager(direct_target(workdir), tmp_path / "state")
    older = start_by_hand(workdir, PY, "bot.py")
    younger = start_by_hand(workdir, PY, "bot.py")
    manager.pidfile.parent.mkdir(parents=True)
    manager.pidfile.write_text("{garbage")
    assert [i.pid for i in manager.find()] == [older, younger]
    hint = host.identify(younger)
    assert hint is not None
    host.write_pidfile(manager.pidfile, hint, manager.target)
    assert [i.pid for i in manager.find()] == [younger, older]


def test_direct_start_failure_is_a_spawn_error(tmp_path: Path) -> None:
    manager = host.DirectManager(direct_target(tmp_path / "missing"), tmp_path / "state")
    with pytest.raises(SpawnError, match="does not exist"):
        manager.start()


def test_a_missing_workdir_is_reported_never_created(tmp_path: Path) -> None:
    """Its logs live inside it: still nothing is created, and the error names the path."""
    missing = tmp_path / "projects" / "remix-sniper"
    manager = host.DirectManager(direct_target(missing), tmp_path / "state")
    with pytest.raises(WorkdirMissing) as info:
        manager.start()
    assert str(info.value) == f"remi: start failed: workdir does not exist: {missing}"
    assert info.value.workdir == str(missing)
    assert not (tmp_path / "projects").exists()


def test_an_unusable_pidfile_directory_is_one_warning_never_a_failed_start_or_stop(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The pidfile is only a hint: a file where ``pids/`` should be (a mistake, a full or
    read-only disk) costs one warning, and every start and stop still works."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "pids").write_text("not a directory\n")
    manager = host.DirectManager(direct_target(write_bot(tmp_path / "remi")), state)
    with caplog.at_level("WARNING", "remi_ops.host"):
        for _ in range(2):
            ident = manager.start()
            assert manager.find() == [ident]
            result = manager.stop(ident, 2)
            assert result.stopped
            assert gone(ident.pid)
    warnings = [r.getMessage() for r in caplog.records if "pidfile" in r.getMessage()]
    assert len(warnings) == 1
    assert "cannot write the pidfile" in warnings[0]
    assert (state / "pids").read_text() == "not a directory\n"
