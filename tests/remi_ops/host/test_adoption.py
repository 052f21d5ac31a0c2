"""Finding the running target to adopt: argv and workdir matching, the pidfile hint."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import msgspec
import psutil
import pytest
from bubabot_local.simkit import SLEEPER, bot_target, kill_leftovers, start_by_hand

from remi_ops import host
from remi_ops.domain import ProcessIdentity
from remi_ops.testing import wait_until as wait_for

pytestmark = pytest.mark.integration

PY = sys.executable


# ------------------------------------------------------------------- matching


@pytest.mark.parametrize(("actual", "wanted", "expected"), [
    (["python", "main.py"], ["python", "main.py"], True),
    (["/srv/remi/.venv/bin/python", "main.py"], ["python3", "main.py"], True),
    (["/usr/bin/python3.11", "-m", "remi"], ["python", "-m", "remi"], True),
    (["python", "main.py", "--debug"], ["python", "main.py"], False),
    (["python", "other.py"], ["python", "main.py"], False),
    (["node", "main.py"], ["python", "main.py"], False),
    (["python"], [], False),
])
def test_argv_matches(actual: list[str], wanted: list[str], expected: bool) -> None:
    assert host.argv_matches(actual, wanted) is expected


def test_find_matches_workdir_and_command_never_a_decoy(tmp_path: Path) -> None:
    """A process with the same cmdline in another directory is not the target."""
    target = bot_target(tmp_path / "remi", SLEEPER)
    loose = msgspec.structs.replace(target, command=("python3", "bot.py"))
    bot_target(tmp_path / "decoy", SLEEPER)
    try:
        real = start_by_hand(tmp_path / "remi", PY, "bot.py")
        start_by_hand(tmp_path / "decoy", PY, "bot.py")
        start_by_hand(tmp_path / "remi", PY, "bot.py", "--other")
        assert [i.pid for i in host.find_target_processes(target)] == [real]
        assert [i.pid for i in host.find_target_processes(loose)] == [real]
    finally:
        kill_leftovers(tmp_path)


def test_find_reports_every_duplicate_oldest_first(tmp_path: Path) -> None:
    target = bot_target(tmp_path / "remi", SLEEPER)
    try:
        first = start_by_hand(tmp_path / "remi", PY, "bot.py")
        second = start_by_hand(tmp_path / "remi", PY, "bot.py")
        assert [i.pid for i in host.find_target_processes(target)] == [first, second]
    finally:
        kill_leftovers(tmp_path)


def test_a_forked_worker_with_the_same_argv_is_not_a_duplicate(tmp_path: Path) -> None:
    code = """
    import os, time
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
    time.sleep(60)
    """
    target = bot_target(tmp_path / "remi", code)
    try:
        pid = start_by_hand(tmp_path / "remi", PY, "bot.py")
        wait_for(lambda: psutil.Process(pid).children())
        assert [i.pid for i in host.find_target_processes(target)] == [pid]
    finally:
        kill_leftovers(tmp_path)


# -------------------------------------------------------------------- pidfile


def test_pidfile_round_trip_trusts_only_the_same_process(
        tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    target = bot_target(tmp_path / "remi", SLEEPER)
    ident = host.spawn(target)
    spawned.append(ident)
    path = host.pidfile_path(tmp_path / "state", "remi")
    assert host.read_pidfile(path, target) is None  # missing
    host.write_pidfile(path, ident, target)
    assert host.read_pidfile(path, target) == ident
    host.write_pidfile(path, dataclasses.replace(ident, create_time=ident.create_time - 50),
                       target)
    assert host.read_pidfile(path, target) is None  # the pid now belongs to someone else
    host.clear_pidfile(path)
    assert not path.exists()


@pytest.mark.parametrize("content", [
    "", "not json", "[]", '{"pid": "x"}', '{"pid": 1}', "null",
    '{"pid": -4, "create_time": 1.0, "cmdline": []}',
    '{"pid": 999999999, "create_time": 1.0, "cmdline": ["python"]}',
])
def test_garbage_or_stale_pidfile_is_ignored(tmp_path: Path, content: str) -> None:
    path = host.pidfile_path(tmp_path, "remi")
    path.parent.mkdir(parents=True)
    path.write_text(content)
    assert host.read_pidfile(path, bot_target(tmp_path / "remi", SLEEPER)) is None
