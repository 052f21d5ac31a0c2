"""Files only the watcher can touch: a 0700 state_dir, a 0600 store, no planted link followed."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from bubabot_local.simkit import sim_settings

from remi_ops.clock import FakeClock
from remi_ops.domain import ProcessIdentity
from remi_ops.host.pidfile import pidfile_path, read_pidfile, write_pidfile
from remi_ops.store.database import Store
from remi_ops.store.filesafety import prepare_state_dir
from remi_ops.watch.watcher import STORE_NAME


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common 022: files come out 0644 and directories 0755 unless Bubabot says else."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_new_state_dir_is_private(tmp_path: Path) -> None:
    """Bubabot creates its state_dir 0700: the audit log and the spool are nobody else's."""
    settings = sim_settings(tmp_path)
    assert not settings.state_dir.exists()
    prepare_state_dir(settings)
    assert mode(settings.state_dir) == 0o700


def test_the_store_creates_its_directory_private(tmp_path: Path) -> None:
    """Whoever opens the store first (a watcher, ``remi-ops status``) gets a 0700 directory."""
    with Store.open(tmp_path / "state" / STORE_NAME, FakeClock()):
        assert mode(tmp_path / "state") == 0o700


def test_the_store_and_its_wal_and_shm_are_0600(tmp_path: Path) -> None:
    """Samples, payloads and the audit log: readable by the watcher's user only."""
    path = tmp_path / "state" / STORE_NAME
    with Store.open(path, FakeClock()) as store:
        store.put_state("probe", {"written": True})  # a write: the WAL has content
        companions = [path.with_name(path.name + s) for s in ("-wal", "-shm")]
        assert all(p.exists() for p in companions)
        assert [mode(p) for p in (path, *companions)] == [0o600] * 3


def test_a_store_left_world_readable_is_tightened(tmp_path: Path) -> None:
    """A store an older Bubabot left 0644 becomes 0600 the next time it is opened."""
    path = tmp_path / STORE_NAME
    Store.open(path, FakeClock()).close()
    path.chmod(0o644)
    with Store.open(path, FakeClock()):
        assert mode(path) == 0o600


def test_a_shared_state_dir_or_workdir_gets_one_warning_each(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Group/world-writable: a warning naming the path (once), and the mode is left alone."""
    settings = sim_settings(tmp_path)
    settings.state_dir.mkdir()
    settings.state_dir.chmod(0o777)
    settings.targets[0].workdir.chmod(0o775)
    with caplog.at_level(logging.WARNING, logger="remi_ops.store.filesafety"):
        prepare_state_dir(settings)
        prepare_state_dir(settings)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert f"state_dir {settings.state_dir} is writable by everyone (mode 0777)" in lines[0]
    assert f"workdir {settings.targets[0].workdir} is writable by its group" in lines[1]
    assert mode(settings.state_dir) == 0o777


def test_a_private_state_dir_is_not_warned_about(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    settings = sim_settings(tmp_path)
    with caplog.at_level(logging.WARNING, logger="remi_ops.store.filesafety"):
        prepare_state_dir(settings)
        prepare_state_dir(settings)
    assert caplog.records == []


def test_a_state_dir_that_is_a_file_is_named_as_not_a_directory(tmp_path: Path) -> None:
    """Not mkdir's confusing "File exists": the path, and that it is not a directory."""
    settings = sim_settings(tmp_path)
    settings.state_dir.write_text("oops", encoding="utf-8")
    with pytest.raises(NotADirectoryError) as caught:
        prepare_state_dir(settings)
    assert caught.value.filename == str(settings.state_dir)


def test_a_link_planted_at_the_old_pidfile_temp_name_is_not_followed(tmp_path: Path) -> None:
    """The pidfile used to go through ``.<name>.<pid>.tmp``: a link there overwrote its target."""
    target = sim_settings(tmp_path).targets[0]
    path = pidfile_path(tmp_path / "state", "remi", target)
    path.parent.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    (path.parent / f".{path.name}.{os.getpid()}.tmp").symlink_to(victim)
    me = ProcessIdentity(os.getpid(), 0.0, ("python",))
    write_pidfile(path, me, target)
    assert victim.read_text(encoding="utf-8") == "precious"
    assert json.loads(path.read_text(encoding="utf-8"))["pid"] == os.getpid()
    assert read_pidfile(path, target) is None  # create_time 0.0 is not this process: only a hint

