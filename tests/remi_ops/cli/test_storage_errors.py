"""A state_dir the OS refuses, or a store SQLite refuses: one line naming the path, exit 1.
(And a number too large to use: one line, exit 2.)

Tests run as root, and chmod does not stop root; a state_dir under a regular file does
(``ENOTDIR`` for everyone), and a store another process holds locked does too.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from bubabot_local.simkit import sim_config_file, sim_settings, sims_in

from remi_ops.cli.main import main, report_storage_error
from remi_ops.watch.watcher import STORE_NAME

VERBS = [["status"], ["health"], ["start"], ["stop"], ["restart"], ["errors"], ["history"],
         ["alerts"], ["scan-test"], ["maintenance", "1h"], ["resolve", "3f2a9c0d1e4b5a69"],
         ["ack", "remi/down"], ["silence", "target=remi", "1h", "--reason", "deploy"],
         ["watch"]]


def config_with_state_dir(tmp_path: Path, state_dir: Path) -> Path:
    path = sim_config_file(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f'state_dir = "{tmp_path / "state"}"',
                                 f'state_dir = "{state_dir}"'), encoding="utf-8")
    return path


def remi_ops(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "remi_ops.cli.main", "--config", str(config),
                           *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: v[0])
def test_every_verb_says_which_path_is_unusable_in_one_line(tmp_path: Path,
                                                            verb: list[str]) -> None:
    """A state_dir whose parent is a file: exit 1, one line with the path, nothing started."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be\n", encoding="utf-8")
    config = config_with_state_dir(tmp_path, blocker / "state")
    done = remi_ops(config, *verb)
    lines = done.stderr.splitlines()
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"remi-ops: cannot use {blocker}") and "Not a directory" in lines[0]
    assert sims_in(tmp_path / "remi") == []  # a verb that cannot record did not act either


def test_a_state_dir_that_is_a_file_is_named(tmp_path: Path) -> None:
    """Not mkdir's "File exists": the state_dir's own path and what is wrong with it."""
    state_dir = tmp_path / "state"
    state_dir.write_text("oops\n", encoding="utf-8")
    done = remi_ops(config_with_state_dir(tmp_path, state_dir), "status")
    assert done.returncode == 1
    assert done.stderr == f"remi-ops: cannot use {state_dir}: Not a directory\n"


def test_a_store_that_stays_locked_is_one_line_too(tmp_path: Path) -> None:
    """SQLite's own refusal (here: locked past the busy timeout) names the state_dir."""
    state_dir = tmp_path / "state"
    config = config_with_state_dir(tmp_path, state_dir)
    assert remi_ops(config, "status").stderr == ""  # creates the store (exit 1: Remi is down)
    holder = sqlite3.connect(state_dir / STORE_NAME, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer, holding on
        done = remi_ops(config, "silence", "target=remi", "1h", "--reason", "deploy")
    finally:
        holder.close()
    assert done.returncode == 1
    assert done.stderr == (f"remi-ops: the state database in {state_dir} cannot be used: "
                           "database is locked\n")


def test_a_full_disk_names_the_state_dir(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A failed write names no file (ENOSPC from write()): the line names the state_dir."""
    settings = sim_settings(tmp_path)
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert report_storage_error("remi-ops", full, settings) == 1
    assert capsys.readouterr().err == ("remi-ops: No space left on device "
                                       f"(state_dir {settings.state_dir})\n")


@pytest.mark.parametrize("verb", [["history", "--since", "99999999999w"],
                                  ["errors", "--since", "99999999999w"],
                                  ["maintenance", "99999999999w"]], ids=lambda v: v[0])
def test_a_duration_too_large_for_a_timedelta_is_a_usage_error(
        tmp_path: Path, verb: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Past what a timedelta holds: exit 2 and one line, not an OverflowError traceback."""
    assert main(["--config", str(sim_config_file(tmp_path)), *verb]) == 2
    err = capsys.readouterr().err
    assert err.startswith("remi-ops: a duration or number given is too large to use (")
    assert len(err.splitlines()) == 1
