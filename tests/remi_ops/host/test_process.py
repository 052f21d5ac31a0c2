"""The OS seam with real processes and signals: identity, spawn, stop, death, lock.

Every child is a small Python program written into tmp_path and run with sys.executable;
a finalizer kills anything still running with its cwd under tmp_path.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from bubabot_local.simkit import gone
from bubabot_local.simkit import wait_until as wait_for

from remi_ops.config import TargetSettings
from remi_ops.domain import ExitInfo, ProcessIdentity
from remi_ops.exceptions import LockHeld, ProcessError, SpawnError
from remi_ops.host import process

pytestmark = pytest.mark.integration

PY = sys.executable

SLEEPER = """
import sys, time
print("out-line", flush=True)
print("err-line", file=sys.stderr, flush=True)
time.sleep(60)
"""
ONE_SHOT = """
import sys
print("out-line", flush=True)
print("err-line", file=sys.stderr, flush=True)
"""
TERM_IGNORER = """
import pathlib, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pathlib.Path("ready").write_text("ready")
time.sleep(60)
"""
# a child that starts a grandchild (optionally in a session of its own) and sleeps
TREE = """
import subprocess, sys, time
code = ("import os, pathlib, time; pathlib.Path('gc.tmp').write_text(str(os.getpid())); "
        "os.rename('gc.tmp', 'grandchild.pid'); time.sleep(60)")
subprocess.Popen([sys.executable, "-c", code], start_new_session="escape" in sys.argv)
time.sleep(60)
"""
BUSY = """
while True:
    pass
"""
ENV_REPORTER = """
import json, os, pathlib
pathlib.Path("env.json").write_text(json.dumps({
    "A": os.environ.get("REMI_A"), "B": os.environ.get("REMI_B"),
    "session_leader": os.getsid(0) == os.getpid(), "cwd": os.getcwd()}))
"""
DUMPABLE = """
import faulthandler, pathlib, signal, sys, time
faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
pathlib.Path("ready").write_text("ready")
time.sleep(60)
"""
# starts argv[2:] in cwd argv[1] detached (not our child), prints its pid and exits
LAUNCHER = """
import subprocess, sys
p = subprocess.Popen(sys.argv[2:], cwd=sys.argv[1], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
print(p.pid, flush=True)
"""
LOCK_HOLDER = """
import pathlib, sys, time
from remi_ops.host.process import TargetLock
TargetLock(pathlib.Path(sys.argv[1]), "remi").acquire()
print("locked", flush=True)
time.sleep(60)
"""
LOCK_RACER = """
import pathlib, sys, time
from remi_ops.exceptions import LockHeld
from remi_ops.host.process import TargetLock
state, go, release = (pathlib.Path(a) for a in sys.argv[1:4])
while not go.exists():
    time.sleep(0.001)
try:
    TargetLock(state, "remi").acquire()
except LockHeld:
    sys.exit(3)
deadline = time.monotonic() + 10
while not release.exists() and time.monotonic() < deadline:
    time.sleep(0.005)
"""


# --------------------------------------------------------------------------- helpers




def make_target(workdir: Path, script: str, *args: str, **extra: object) -> TargetSettings:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "bot.py").write_text(textwrap.dedent(script))
    return TargetSettings.model_validate(
        {"name": "remi", "workdir": workdir, "command": (PY, "bot.py", *args), **extra})


def kill_leftovers(root: Path) -> None:
    """Kill every process still running with its cwd under ``root``."""
    root = root.resolve()
    for proc in psutil.process_iter(["pid", "cwd"]):
        cwd = proc.info["cwd"]
        if proc.pid != os.getpid() and cwd and Path(cwd).is_relative_to(root):
            try:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
            except psutil.Error:
                pass


@pytest.fixture
def spawned(tmp_path: Path) -> Iterator[list[ProcessIdentity]]:
    """Identities spawned by a test; stopped (and reaped) afterwards, leftovers killed."""
    idents: list[ProcessIdentity] = []
    yield idents
    for ident in idents:
        process.stop(ident, 0.2)
    kill_leftovers(tmp_path)


def start_by_hand(cwd: Path, *argv: str) -> int:
    """Start a process the way a person would: not our child."""
    launcher = cwd.parent / "launcher.py"
    launcher.write_text(textwrap.dedent(LAUNCHER))
    out = subprocess.run([PY, str(launcher), str(cwd), *argv], capture_output=True,
                         text=True, check=True, timeout=10)
    return int(out.stdout.strip())


# --------------------------------------------------------------------------- spawn


def test_spawn_appends_stdout_and_stderr_to_their_own_logs(tmp_path: Path) -> None:
    """Each run appends its stdout to stdout_log and its stderr to stderr_log."""
    target = make_target(tmp_path / "remi", ONE_SHOT, stdout_log="logs/out.log",
                         stderr_log="logs/err.log")
    for _ in range(2):
        ident = process.spawn(target)
        assert process.wait_exit(ident, 5) is not None
    assert (tmp_path / "remi/logs/out.log").read_text() == "out-line\nout-line\n"
    assert (tmp_path / "remi/logs/err.log").read_text() == "err-line\nerr-line\n"


def test_spawn_sets_env_cwd_and_a_session_of_its_own(tmp_path: Path) -> None:
    """env = os.environ + target.env + extra_env; cwd = workdir; own session."""
    target = make_target(tmp_path / "remi", ENV_REPORTER, env={"REMI_A": "a", "REMI_B": "b"})
    ident = process.spawn(target, {"REMI_B": "override"})
    assert process.wait_exit(ident, 5) is not None
    seen = json.loads((tmp_path / "remi/env.json").read_text())
    assert seen == {"A": "a", "B": "override", "session_leader": True,
                    "cwd": str((tmp_path / "remi").resolve())}


def test_spawn_missing_workdir_is_a_spawn_error(tmp_path: Path) -> None:
    target = TargetSettings(name="remi", workdir=tmp_path / "nope", command=(PY, "bot.py"))
    with pytest.raises(SpawnError, match=r"workdir .*nope does not exist"):
        process.spawn(target)


@pytest.mark.parametrize("command", [("no-such-program-xyz",), ("./bot.sh",)])
def test_spawn_command_not_found_or_not_executable(tmp_path: Path,
                                                   command: tuple[str, ...]) -> None:
    """A missing program and a file without execute bits both say so."""
    (tmp_path / "bot.sh").write_text("#!/bin/sh\nsleep 60\n")
    target = TargetSettings(name="remi", workdir=tmp_path, command=command)
    with pytest.raises(SpawnError) as info:
        process.spawn(target)
    assert info.value.detail == f"command {command[0]!r} not found or not executable"
    assert info.value.target == "remi"


# --------------------------------------------------------------------------- identity


def test_identify_and_snapshot_describe_the_live_tree(tmp_path: Path,
                                                      spawned: list[ProcessIdentity]) -> None:
    target = make_target(tmp_path / "remi", TREE)
    ident = process.spawn(target)
    spawned.append(ident)
    wait_for((tmp_path / "remi/grandchild.pid").exists)
    grandchild = int((tmp_path / "remi/grandchild.pid").read_text())

    assert process.identify(ident.pid) == ident
    assert ident.cmdline == (PY, "bot.py")
    assert ident.cwd == str((tmp_path / "remi").resolve())
    snap = process.snapshot(ident)
    assert snap is not None
    assert snap.identity == ident
    assert grandchild in snap.children
    assert snap.rss_bytes > 0
    assert snap.uptime_s >= 0
    assert snap.status in (psutil.STATUS_SLEEPING, psutil.STATUS_RUNNING)


def test_snapshot_cpu_percent_covers_the_interval_between_calls(
        tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    """Successive snapshots of a busy process report real CPU use, not 0.0 each time."""
    ident = process.spawn(make_target(tmp_path / "remi", BUSY))
    spawned.append(ident)
    assert process.snapshot(ident) is not None
    time.sleep(0.3)
    snap = process.snapshot(ident)
    assert snap is not None
    assert snap.cpu_percent > 20


def test_a_gone_process_has_no_identity_nor_snapshot(tmp_path: Path) -> None:
    ident = process.spawn(make_target(tmp_path / "remi", ONE_SHOT))
    assert process.wait_exit(ident, 5) is not None
    assert process.identify(ident.pid) is None
    assert process.snapshot(ident) is None
    assert not process.is_alive(ident)


def test_reused_pid_is_never_signalled(tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    """An identity with the right pid but another start time or cmdline is not that process."""
    ident = process.spawn(make_target(tmp_path / "remi", SLEEPER))
    spawned.append(ident)
    for fake in (dataclasses.replace(ident, create_time=ident.create_time - 100),
                 dataclasses.replace(ident, cmdline=("python", "other.py"))):
        assert not process.same_process(fake)
        assert process.snapshot(fake) is None
        result = process.stop(fake, 0.2)
        assert result == dataclasses.replace(result, stopped=False, killed=False)
        assert not process.send_dump_signal(fake, assume_handler=True)
        assert process.wait_exit(fake, 0.05) is not None  # "that" process is gone
    assert process.is_alive(ident)
    assert process.same_process(ident)


# --------------------------------------------------------------------------- matching


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
    assert process.argv_matches(actual, wanted) is expected


def test_find_matches_workdir_and_command_never_a_decoy(tmp_path: Path) -> None:
    """A process with the same cmdline in another directory is not the target."""
    target = make_target(tmp_path / "remi", SLEEPER)
    loose = target.model_copy(update={"command": ("python3", "bot.py")})
    make_target(tmp_path / "decoy", SLEEPER)
    try:
        real = start_by_hand(tmp_path / "remi", PY, "bot.py")
        start_by_hand(tmp_path / "decoy", PY, "bot.py")
        start_by_hand(tmp_path / "remi", PY, "bot.py", "--other")
        assert [i.pid for i in process.find_target_processes(target)] == [real]
        assert [i.pid for i in process.find_target_processes(loose)] == [real]
    finally:
        kill_leftovers(tmp_path)


def test_find_reports_every_duplicate_oldest_first(tmp_path: Path) -> None:
    target = make_target(tmp_path / "remi", SLEEPER)
    try:
        first = start_by_hand(tmp_path / "remi", PY, "bot.py")
        second = start_by_hand(tmp_path / "remi", PY, "bot.py")
        assert [i.pid for i in process.find_target_processes(target)] == [first, second]
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
    target = make_target(tmp_path / "remi", code)
    try:
        pid = start_by_hand(tmp_path / "remi", PY, "bot.py")
        wait_for(lambda: psutil.Process(pid).children())
        assert [i.pid for i in process.find_target_processes(target)] == [pid]
    finally:
        kill_leftovers(tmp_path)


# --------------------------------------------------------------------------- pidfile


def test_pidfile_round_trip_trusts_only_the_same_process(
        tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    ident = process.spawn(make_target(tmp_path / "remi", SLEEPER))
    spawned.append(ident)
    path = process.pidfile_path(tmp_path / "state", "remi")
    assert process.read_pidfile(path) is None  # missing
    process.write_pidfile(path, ident)
    assert process.read_pidfile(path) == ident
    process.write_pidfile(path, dataclasses.replace(ident, create_time=ident.create_time - 50))
    assert process.read_pidfile(path) is None  # the pid now belongs to someone else
    process.clear_pidfile(path)
    assert not path.exists()


@pytest.mark.parametrize("content", [
    "", "not json", "[]", '{"pid": "x"}', '{"pid": 1}', "null",
    '{"pid": -4, "create_time": 1.0, "cmdline": []}',
    '{"pid": 999999999, "create_time": 1.0, "cmdline": ["python"]}',
])
def test_garbage_or_stale_pidfile_is_ignored(tmp_path: Path, content: str) -> None:
    path = process.pidfile_path(tmp_path, "remi")
    path.parent.mkdir(parents=True)
    path.write_text(content)
    assert process.read_pidfile(path) is None


# --------------------------------------------------------------------------- stop


def test_stop_a_cooperative_process(tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    ident = process.spawn(make_target(tmp_path / "remi", SLEEPER))
    spawned.append(ident)
    result = process.stop(ident, 5)
    assert (result.stopped, result.killed, result.survivors) == (True, False, ())
    assert result.duration_s < 2
    assert not process.is_alive(ident)
    info = process.wait_exit(ident, 1)
    assert info is not None
    assert info.signal == signal.SIGTERM


def test_stop_of_a_dead_child_is_a_no_op_that_keeps_its_exit_status(tmp_path: Path) -> None:
    ident = process.spawn(make_target(tmp_path / "remi", SLEEPER))
    os.kill(ident.pid, signal.SIGKILL)
    wait_for(lambda: gone(ident.pid))
    result = process.stop(ident, 1)
    assert (result.stopped, result.killed) == (False, False)
    info = process.wait_exit(ident, 1)
    assert info is not None
    assert info.signal == signal.SIGKILL


def test_stop_a_sigstopped_process(tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    """SIGCONT first: a stopped process cannot act on SIGTERM, and needs no SIGKILL."""
    ident = process.spawn(make_target(tmp_path / "remi", SLEEPER))
    spawned.append(ident)
    os.kill(ident.pid, signal.SIGSTOP)
    wait_for(lambda: psutil.Process(ident.pid).status() == psutil.STATUS_STOPPED)
    result = process.stop(ident, 5)
    assert (result.stopped, result.killed) == (True, False)
    assert gone(ident.pid)


def test_stop_kills_a_term_ignoring_process_after_grace(
        tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    ident = process.spawn(make_target(tmp_path / "remi", TERM_IGNORER))
    spawned.append(ident)
    wait_for((tmp_path / "remi/ready").exists)
    result = process.stop(ident, 0.5)
    assert (result.stopped, result.killed) == (True, True)
    assert 0.5 <= result.duration_s < 3
    info = process.wait_exit(ident, 1)
    assert info is not None
    assert info.signal == signal.SIGKILL


@pytest.mark.parametrize("mode", ["same-session", "escape"])
def test_stop_takes_the_grandchild_too(tmp_path: Path, spawned: list[ProcessIdentity],
                                       mode: str) -> None:
    """Grandchildren die with the target, even one that left the session."""
    ident = process.spawn(make_target(tmp_path / "remi", TREE, mode))
    spawned.append(ident)
    pidfile = tmp_path / "remi/grandchild.pid"
    wait_for(pidfile.exists)
    grandchild = int(pidfile.read_text())
    assert not gone(grandchild)
    process.stop(ident, 2)
    assert gone(grandchild)
    assert gone(ident.pid)


def test_stop_an_adopted_process_and_its_session(tmp_path: Path) -> None:
    """A process we did not start is stopped with its tree, found through its session."""
    make_target(tmp_path / "remi", TREE)
    try:
        pid = start_by_hand(tmp_path / "remi", PY, "bot.py")
        wait_for((tmp_path / "remi/grandchild.pid").exists)
        grandchild = int((tmp_path / "remi/grandchild.pid").read_text())
        ident = process.identify(pid)
        assert ident is not None
        result = process.stop(ident, 2)
        assert result.stopped
        assert gone(pid)
        assert gone(grandchild)
    finally:
        kill_leftovers(tmp_path)


def test_stop_without_permission_is_a_process_error(
        tmp_path: Path, spawned: list[ProcessIdentity], monkeypatch: pytest.MonkeyPatch) -> None:
    ident = process.spawn(make_target(tmp_path / "remi", SLEEPER))
    spawned.append(ident)

    def denied(self: psutil.Process, sig: int) -> None:
        raise psutil.AccessDenied(self.pid)

    with monkeypatch.context() as patch:
        patch.setattr(psutil.Process, "send_signal", denied)
        with pytest.raises(ProcessError) as info:
            process.stop(ident, 0.2, target_name="remi")
    assert info.value.target == "remi"
    assert info.value.detail == f"permission denied sending SIGCONT to pid {ident.pid}"
    assert process.is_alive(ident)


# --------------------------------------------------------------------------- death


def test_adopted_process_death_is_noticed_within_a_second(tmp_path: Path) -> None:
    make_target(tmp_path / "remi", SLEEPER)
    try:
        pid = start_by_hand(tmp_path / "remi", PY, "bot.py")
        ident = process.identify(pid)
        assert ident is not None
        results: list[ExitInfo | None] = []
        waiter = threading.Thread(target=lambda: results.append(process.wait_exit(ident, 10)))
        waiter.start()
        time.sleep(0.1)
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        waiter.join(5)
        noticed_after = time.monotonic() - killed_at
        assert noticed_after < 1.0
        [info] = results
        assert info is not None
        assert (info.pid, info.returncode, info.signal) == (pid, None, None)
    finally:
        kill_leftovers(tmp_path)


def test_own_child_killed_by_sigkill_reports_signal_9(
        tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    ident = process.spawn(make_target(tmp_path / "remi", SLEEPER))
    spawned.append(ident)
    killed_at = time.monotonic()
    os.kill(ident.pid, signal.SIGKILL)
    info = process.wait_exit(ident, 5)
    assert time.monotonic() - killed_at < 1.0
    assert info is not None
    assert (info.pid, info.returncode, info.signal) == (ident.pid, -9, 9)
    assert info.at.tzinfo is not None


def test_own_child_exit_code_is_known(tmp_path: Path) -> None:
    ident = process.spawn(make_target(tmp_path / "remi", "import sys; sys.exit(78)"))
    info = process.wait_exit(ident, 5)
    assert info is not None
    assert (info.returncode, info.signal) == (78, None)


@pytest.mark.parametrize("own_child", [True, False])
def test_wait_exit_times_out_and_can_be_cancelled(tmp_path: Path,
                                                  spawned: list[ProcessIdentity],
                                                  own_child: bool) -> None:
    """A waiting thread returns None on timeout, at once for 0, and soon after cancel."""
    target = make_target(tmp_path / "remi", SLEEPER)
    if own_child:
        ident = process.spawn(target)
    else:
        found = process.identify(start_by_hand(tmp_path / "remi", PY, "bot.py"))
        assert found is not None
        ident = found
    spawned.append(ident)
    assert process.wait_exit(ident, 0) is None
    started = time.monotonic()
    assert process.wait_exit(ident, 0.2) is None
    assert 0.2 <= time.monotonic() - started < 0.6
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    started = time.monotonic()
    assert process.wait_exit(ident, None, cancel=cancel) is None
    assert time.monotonic() - started < 0.5


# --------------------------------------------------------------------------- dumps


def test_dump_signal_goes_only_to_a_process_that_handles_it(
        tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    """SIGUSR1 would kill a process without a handler, so it is not sent there."""
    dumpable = process.spawn(make_target(tmp_path / "remi", DUMPABLE))
    plain = process.spawn(make_target(tmp_path / "plain", SLEEPER))
    spawned.extend([dumpable, plain])
    wait_for((tmp_path / "remi/ready").exists)
    assert process.send_dump_signal(dumpable)
    wait_for(lambda: "most recent call first" in (tmp_path / "remi/bot_error.log").read_text())
    assert process.is_alive(dumpable)
    assert not process.send_dump_signal(plain)
    assert process.is_alive(plain)


# --------------------------------------------------------------------------- lock


def test_lock_held_by_another_live_process_names_it(tmp_path: Path) -> None:
    holder_py = tmp_path / "holder.py"
    holder_py.write_text(textwrap.dedent(LOCK_HOLDER))
    with subprocess.Popen([PY, str(holder_py), str(tmp_path / "state")],
                          stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "locked"
            with pytest.raises(LockHeld) as info:
                process.TargetLock(tmp_path / "state", "remi").acquire()
            assert (info.value.target, info.value.holder_pid) == ("remi", holder.pid)
        finally:
            holder.kill()
    # the holder was killed with SIGKILL: the kernel released its lock, nothing is stale
    with process.TargetLock(tmp_path / "state", "remi") as lock:
        assert lock.held
        assert lock.path.read_text().strip() == str(os.getpid())


def test_lock_is_exclusive_within_a_process_and_released_on_close(tmp_path: Path) -> None:
    first = process.TargetLock(tmp_path, "remi").acquire()
    with pytest.raises(LockHeld) as info:
        process.TargetLock(tmp_path, "remi").acquire()
    assert info.value.holder_pid == os.getpid()
    first.close()
    assert not first.held
    with process.TargetLock(tmp_path, "remi"):
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
