"""Never signal a stranger: a process is Remi only by our spawn, or by argv + cwd + user."""

from __future__ import annotations

import json
import logging
import os
import pwd
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from bubabot_local.simkit import SLEEPER, bot_target, gone, start_by_hand, write_bot

from remi_ops import host
from remi_ops.config import TargetSettings
from remi_ops.exceptions import ProcessError

pytestmark = pytest.mark.integration

PY = sys.executable


def test_a_forged_pidfile_never_leads_a_stop_to_an_unrelated_process(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The pidfile names a live process (right pid + ctime) that is not Remi: set aside."""
    target = bot_target(tmp_path / "remi", SLEEPER)
    stranger_dir = write_bot(tmp_path / "elsewhere")
    stranger = start_by_hand(stranger_dir, PY, "bot.py", "--not-remi")
    manager = host.DirectManager(target, tmp_path / "state")
    ident = host.identify(stranger)
    assert ident is not None
    manager.pidfile.parent.mkdir(parents=True)
    manager.pidfile.write_text(json.dumps({  # forged: no marker, no workdir
        "pid": ident.pid, "create_time": ident.create_time, "cmdline": list(ident.cmdline)}))
    with caplog.at_level(logging.WARNING, logger="remi_ops.host"):
        assert manager.find() == []
    assert "set aside" in caplog.text and str(stranger) in caplog.text
    assert manager.stop(None, 1).stopped is False
    with pytest.raises(ProcessError, match="refusing to signal it"):
        manager.stop(ident, 1)
    assert not gone(stranger)


def test_a_pidfile_of_another_workdir_is_refused(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """Staging and prod share a ``state_dir`` and a name: staging's stop leaves prod alone."""
    prod = host.DirectManager(bot_target(tmp_path / "prod", SLEEPER), tmp_path / "state")
    staging = host.DirectManager(bot_target(tmp_path / "staging", SLEEPER), tmp_path / "state")
    prods = prod.start()
    # even a pidfile copied over staging's (an old layout, a hand edit) names prod's workdir
    staging.pidfile.parent.mkdir(parents=True, exist_ok=True)
    staging.pidfile.write_text(prod.pidfile.read_text())
    with caplog.at_level(logging.WARNING, logger="remi_ops.host"):
        assert staging.find() == []
        assert staging.stop(None, 1).stopped is False
    assert "written for workdir" in caplog.text
    assert not gone(prods.pid)
    assert prod.find() == [prods]
    assert staging.pidfile.exists()  # prod's hint is not staging's to remove
    prod.stop(None, 2)
    assert gone(prods.pid)


@pytest.fixture
def nobody() -> Iterator[int]:
    if os.getuid() != 0:
        pytest.skip("needs root to start a process as another user")
    try:
        yield pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("no user 'nobody' here")


def test_another_users_process_with_remis_argv_in_remis_workdir_is_never_signalled(
        tmp_path: Path, nobody: int) -> None:
    workdir = tmp_path / "remi"
    workdir.mkdir()
    target = TargetSettings(name="remi", workdir=workdir, command=("sleep", "300"))
    theirs = subprocess.Popen(["sleep", "300"], cwd=workdir, user=nobody,
                              start_new_session=True)
    try:
        manager = host.DirectManager(target, tmp_path / "state")
        assert host.find_target_processes(target) == []
        assert manager.find() == []
        assert manager.stop(None, 1).stopped is False
        stranger = host.identify(theirs.pid)
        assert stranger is not None
        with pytest.raises(ProcessError, match="not as the target's user"):
            manager.stop(stranger, 1)
        ours = manager.start()  # ours is started beside it, theirs is not adopted
        assert ours.pid != theirs.pid
        assert manager.find() == [ours]
        manager.stop(None, 1)
        assert gone(ours.pid)
        assert theirs.poll() is None
        configured = msgspec.structs.replace(target, process_user="nobody")
        assert [i.pid for i in host.find_target_processes(configured)] == [theirs.pid]
    finally:
        theirs.kill()
        theirs.wait()
