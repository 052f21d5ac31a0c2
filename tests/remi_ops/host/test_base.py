"""What every manager answers the same way, with real processes (through a DirectManager).

``request_dump``, ``py_spy_dump`` and ``run_command`` are part of the ProcessManager
contract (a FakeProcessManager elsewhere is written against it), so they are pinned
here on the real thing: what each returns, and what each must never do.
"""

from __future__ import annotations

import dataclasses
import sys
import textwrap
import time
from pathlib import Path

import pytest
from bubabot_local.simkit import DUMPABLE, SLEEPER, bot_target, gone

from remi_ops import host
from remi_ops.domain import ProcessIdentity
from remi_ops.testing import wait_until as wait_for

pytestmark = pytest.mark.integration

PY = sys.executable
# prints its argv, as ``py-spy dump --pid N`` would print the stacks of pid N
FAKE_PY_SPY = f"#!{PY}\nimport sys\nprint('Thread 1 (idle)', sys.argv[1:])\n"


def started(tmp_path: Path, script: str, spawned: list[ProcessIdentity],
            name: str = "remi") -> tuple[host.DirectManager, ProcessIdentity]:
    """A DirectManager and the target it started (stopped after the test)."""
    manager = host.DirectManager(bot_target(tmp_path / name, script), tmp_path / f"state-{name}")
    ident = manager.start()
    spawned.append(ident)
    return manager, ident


def put_py_spy_on_path(bin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir.mkdir(exist_ok=True)
    spy = bin_dir / "py-spy"
    spy.write_text(FAKE_PY_SPY)
    spy.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))


# --------------------------------------------------------------------------- run_command


def test_run_command_returns_the_output_and_exit_code(tmp_path: Path) -> None:
    """The scan test's path: argv in cwd, env layered over ours, output and code back."""
    manager = host.DirectManager(bot_target(tmp_path / "remi", SLEEPER), tmp_path / "state")
    code = "import os, sys; print(os.environ['REMI_X'], os.getcwd()); sys.exit(2)"
    result = manager.run_command([PY, "-c", code], cwd=tmp_path, env={"REMI_X": "x"},
                                 timeout_s=10)
    assert (result.exit_code, result.timed_out, result.ok) == (2, False, False)
    assert result.output == f"x {tmp_path.resolve()}\n"
    assert result.argv == (PY, "-c", code)


def test_run_command_kills_the_whole_tree_on_timeout(tmp_path: Path) -> None:
    manager = host.DirectManager(bot_target(tmp_path / "remi", SLEEPER), tmp_path / "state")
    code = textwrap.dedent("""
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c",
            "import os, pathlib, time; pathlib.Path('gc.tmp').write_text(str(os.getpid())); "
            "os.rename('gc.tmp', 'grandchild.pid'); time.sleep(60)"], start_new_session=True)
        print("started", flush=True)
        time.sleep(60)
    """)
    begun = time.monotonic()
    result = manager.run_command([PY, "-c", code], cwd=tmp_path, env=None, timeout_s=1.0)
    assert time.monotonic() - begun < 3
    assert (result.timed_out, result.exit_code, result.ok) == (True, None, False)
    assert "started" in result.output
    grandchild = int((tmp_path / "grandchild.pid").read_text())
    wait_for(lambda: gone(grandchild), 2)


# --------------------------------------------------------------------------- request_dump


def test_request_dump_asks_a_process_that_handles_sigusr1(
        tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    manager, ident = started(tmp_path, DUMPABLE, spawned)
    wait_for((tmp_path / "remi/ready").exists)
    assert manager.request_dump(ident) is True
    wait_for(lambda: "most recent call first" in (tmp_path / "remi/bot_error.log").read_text())
    assert host.is_alive(ident)


def test_request_dump_never_kills_a_process_without_a_handler(
        tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    """SIGUSR1's default action is to terminate: nothing is sent, the process lives."""
    manager, ident = started(tmp_path, SLEEPER, spawned)
    assert manager.request_dump(ident) is False
    time.sleep(0.2)
    assert host.is_alive(ident)
    assert manager.wait_exit(ident, 0) is None


def test_request_dump_of_a_stale_identity_sends_nothing(
        tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    manager, ident = started(tmp_path, DUMPABLE, spawned)
    wait_for((tmp_path / "remi/ready").exists)
    stale = dataclasses.replace(ident, create_time=ident.create_time - 100)
    assert manager.request_dump(stale) is False
    time.sleep(0.2)
    assert "most recent call first" not in (tmp_path / "remi/bot_error.log").read_text()


# --------------------------------------------------------------------------- py_spy_dump


def test_py_spy_dump_is_none_without_py_spy(tmp_path: Path, spawned: list[ProcessIdentity],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    manager, ident = started(tmp_path, SLEEPER, spawned)
    (tmp_path / "empty-bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert manager.py_spy_dump(ident) is None
    assert host.is_alive(ident)


def test_py_spy_dump_reads_the_live_process(tmp_path: Path, spawned: list[ProcessIdentity],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    manager, ident = started(tmp_path, SLEEPER, spawned)
    put_py_spy_on_path(tmp_path / "bin", monkeypatch)
    dump = manager.py_spy_dump(ident)
    assert dump == f"Thread 1 (idle) ['dump', '--pid', '{ident.pid}']\n"


def test_py_spy_dump_of_a_stale_identity_is_none(tmp_path: Path,
                                                spawned: list[ProcessIdentity],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """py-spy is there, but the pid no longer names the process we identified."""
    manager, ident = started(tmp_path, SLEEPER, spawned)
    put_py_spy_on_path(tmp_path / "bin", monkeypatch)
    assert manager.py_spy_dump(dataclasses.replace(ident, create_time=ident.create_time - 100)) \
        is None
    manager.stop(ident, 2)
    assert manager.py_spy_dump(ident) is None
