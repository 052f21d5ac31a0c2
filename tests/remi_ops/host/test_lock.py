"""The singleton lock with real processes: held, exclusive, released by the kernel."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from remi_ops import host
from remi_ops.config import Settings, TargetSettings
from remi_ops.config_file import parse_settings
from remi_ops.exceptions import ConfigError, LockHeld
from remi_ops.testing import wait_until as wait_for

pytestmark = pytest.mark.integration

PY = sys.executable


LOCK_HOLDER = """
import pathlib, sys, time
from remi_ops.config import TargetSettings
from remi_ops.host import TargetLock
target = TargetSettings(name="remi", workdir=pathlib.Path(sys.argv[1]),
                        command=["python", "bot.py"])
TargetLock(target, directory=pathlib.Path(sys.argv[2])).acquire()
print("locked", flush=True)
time.sleep(60)
"""


LOCK_RACER = """
import pathlib, sys, time
from remi_ops.config import Settings, TargetSettings
from remi_ops.config_file import parse_settings
from remi_ops.exceptions import ConfigError, LockHeld
from remi_ops.config import TargetSettings
from remi_ops.host import TargetLock
state, go, release = (pathlib.Path(a) for a in sys.argv[1:4])
target = TargetSettings(name="remi", workdir=state, command=["python", "bot.py"])
while not go.exists():
    time.sleep(0.001)
try:
    TargetLock(target, directory=state).acquire()
except LockHeld:
    sys.exit(3)
deadline = time.monotonic() + 10
while not release.exists() and time.monotonic() < deadline:
    time.sleep(0.005)
"""


def lock_for(tmp_path: Path, name: str = "remi", workdir: str = "remi") -> host.TargetLock:
    target = TargetSettings(name=name, workdir=tmp_path / workdir, command=("python", "bot.py"))
    return host.TargetLock(target, directory=tmp_path / "locks")


def test_lock_held_by_another_live_process_names_it(tmp_path: Path) -> None:
    holder_py = tmp_path / "holder.py"
    holder_py.write_text(textwrap.dedent(LOCK_HOLDER))
    with subprocess.Popen([PY, str(holder_py), str(tmp_path / "remi"), str(tmp_path / "locks")],
                          stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "locked"
            with pytest.raises(LockHeld) as info:
                lock_for(tmp_path).acquire()
            assert (info.value.target, info.value.holder_pid) == ("remi", holder.pid)
        finally:
            holder.kill()
    # the holder was killed with SIGKILL: the kernel released its lock, nothing is stale
    with lock_for(tmp_path) as lock:
        assert lock.held
        assert lock.path.read_text().split()[0] == str(os.getpid())


def test_lock_is_exclusive_within_a_process_and_released_on_close(tmp_path: Path) -> None:
    first = lock_for(tmp_path).acquire()
    with pytest.raises(LockHeld) as info:
        lock_for(tmp_path).acquire()
    assert info.value.holder_pid == os.getpid()
    first.close()
    assert not first.held
    with lock_for(tmp_path):
        pass


def test_two_racing_watchers_exactly_one_wins(tmp_path: Path) -> None:
    racer = tmp_path / "racer.py"
    racer.write_text(textwrap.dedent(LOCK_RACER))
    go, release = tmp_path / "go", tmp_path / "release"
    argv = [PY, str(racer), str(tmp_path / "state"), str(go), str(release)]
    procs = [subprocess.Popen(argv) for _ in range(2)]
    try:
        time.sleep(0.3)  # both interpreters up and polling for "go"
        go.touch()
        wait_for(lambda: any(p.poll() is not None for p in procs))
        release.touch()
        codes = sorted(p.wait(10) for p in procs)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert codes == [0, 3]


def test_a_look_at_the_lock_never_turns_a_starting_watcher_away(tmp_path: Path) -> None:
    """``status`` (and every verb) looks at the lock; a watcher starting in that instant
    waits the look out instead of exiting "already watched" (a CI failure once)."""
    looks, stop = [0], threading.Event()

    def look() -> None:
        while not stop.is_set():
            lock_for(tmp_path).held_elsewhere()
            looks[0] += 1

    (tmp_path / "locks").mkdir()
    lock_for(tmp_path).acquire().release()  # the file exists: the looks take it
    looker = threading.Thread(target=look)
    looker.start()
    try:
        wait_for(lambda: looks[0] > 100)
        for _ in range(300):
            lock = lock_for(tmp_path).acquire()
            lock.release()
    finally:
        stop.set()
        looker.join()


def test_a_look_sees_a_holder_and_writes_nothing(tmp_path: Path) -> None:
    assert not lock_for(tmp_path).held_elsewhere()  # never taken: no file, no holder
    assert not (tmp_path / "locks").exists()
    with lock_for(tmp_path) as held:
        before = held.path.read_bytes()
        assert lock_for(tmp_path).held_elsewhere()
        assert held.path.read_bytes() == before  # the holder's pid is still there
    assert not lock_for(tmp_path).held_elsewhere()


# ----------------------------------------------------- one Remi per workdir + command


def settings_for(tmp_path: Path, state: str, *targets: tuple[str, str]) -> Settings:
    return parse_settings({"watchdog": {"state_dir": str(tmp_path / state)},
                           "targets": [{"name": name, "workdir": str(tmp_path / workdir),
                                        "command": ["python", "bot.py"]}
                                       for name, workdir in targets]}, base_dir=tmp_path)


def test_two_configs_for_one_workdir_meet_at_one_lock(tmp_path: Path) -> None:
    """Other state_dirs, other names, a symlinked path: the same Remi, the same lock."""
    (tmp_path / "remi").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "remi")
    first = settings_for(tmp_path, "state-a", ("remi", "remi"))
    for other in (settings_for(tmp_path, "state-b", ("remi", "remi")),
                  settings_for(tmp_path, "state-c", ("bot", "link"))):
        with host.TargetLock(first.targets[0]) as lock:  # the real per-user lock directory
            with pytest.raises(LockHeld) as info:
                host.TargetLock(other.targets[0]).acquire()
            assert info.value.holder_pid == os.getpid()
            assert str((tmp_path / "remi").resolve()) in lock.path.read_text()


def test_staging_and_prod_sharing_state_dir_and_name_do_not_share_a_lock(
        tmp_path: Path) -> None:
    prod = settings_for(tmp_path, "state", ("remi", "prod"))
    staging = settings_for(tmp_path, "state", ("remi", "staging"))
    with host.TargetLock(prod.targets[0]), host.TargetLock(staging.targets[0]):
        pass


def test_two_targets_on_one_workdir_and_command_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        settings_for(tmp_path, "state", ("remi", "remi"), ("remi2", "remi"))
    assert info.value.problems == (
        "targets[remi2].workdir: the same workdir and command as targets[remi]; "
        "one Remi per workdir and command",)


def test_a_duplicate_workdir_in_the_config_file_exits_2_naming_the_field(
        tmp_path: Path) -> None:
    config = tmp_path / "bubabot.toml"
    config.write_text(textwrap.dedent(f"""
        [watchdog]
        state_dir = "{tmp_path / 'state'}"
        [[targets]]
        name = "remi"
        workdir = "{tmp_path}"
        command = ["python", "bot.py"]
        [[targets]]
        name = "copy"
        workdir = "{tmp_path}/."
        command = ["python", "bot.py"]
        """))
    remi_ops = str(Path(PY).parent / "remi-ops")
    done = subprocess.run([remi_ops, "--config", str(config), "status"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "targets[copy].workdir: the same workdir and command as targets[remi]" \
        in done.stderr
    assert "Traceback" not in done.stderr
