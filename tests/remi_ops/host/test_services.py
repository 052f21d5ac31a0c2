"""The systemd and launchd managers with real processes.

systemd and launchd are played by a stand-in executable named ``systemctl``/``launchctl``
put first on PATH: it records its argv, prints canned ``show``/``print`` output and keeps a
small real service process alive, so the managers' identity checks see real pids.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bubabot_local.simkit import (
    TERM_IGNORER,
    gone,
    launchd_target,
    start_by_hand,
    systemd_target,
    write_bot,
)

from remi_ops.exceptions import ProcessError
from remi_ops.host import services
from remi_ops.host.exitwatch import ExitWatch
from remi_ops.testing import wait_until as wait_for

pytestmark = pytest.mark.integration

PY = sys.executable


SHOW = ["show", "remi.service",
        "--property=MainPID,ActiveState,SubState,ExecMainStatus,ExecMainPID,ExecMainCode"]

# the stand-in for systemctl and launchctl (one file, two names)
FAKECTL = r'''#!{python}
import json, os, pathlib, signal, sys, time

HERE = pathlib.Path(__file__).resolve().parent
tool, args = pathlib.Path(sys.argv[0]).name, sys.argv[1:]
with open(HERE / "calls.jsonl", "a") as f:
    f.write(json.dumps([tool, *args]) + "\n")
state_file = HERE / "state.json"
state = json.loads(state_file.read_text())
pid = state.get("pid") or 0


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def spawn():
    child = os.fork()
    if child == 0:
        os.setsid()
        os.chdir(state["workdir"])
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.execv(sys.executable, [sys.executable, "bot.py"])
    state["pid"] = child


def stop():
    if pid and alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
    state["pid"] = 0


if state.get("fail"):
    print(state["fail"])
    sys.exit(4)
if tool == "systemctl":
    cmd = [a for a in args if a != "--user"][0]
    if cmd == "start" and not alive(pid):
        spawn()
    elif cmd == "stop":
        stop()
    elif cmd == "restart":
        stop()
        spawn()
    elif cmd == "show":
        up = alive(pid)
        print(f"MainPID={pid if up else 0}")
        print(f"ActiveState={'active' if up else 'inactive'}")
        print(f"SubState={'running' if up else 'dead'}")
        print(f"ExecMainStatus={state.get('status', 0)}")
        print(f"ExecMainPID={pid}")
        print(f"ExecMainCode={state.get('code', 0)}")
else:
    cmd = args[0]
    if cmd == "kickstart" and "-k" in args:
        stop()
        spawn()
    elif cmd == "kickstart" and not alive(pid):
        spawn()
    elif cmd == "kill" and pid and alive(pid):
        os.kill(pid, getattr(signal, args[1]))
    elif cmd == "print":
        up = alive(pid)
        print(f"{args[1]} = {{")
        print("\tactive count = 1")
        print(f"\tstate = {'running' if up else 'not running'}")
        print("\tendpoints = {")
        print("\t\tstate = active")
        print("\t}")
        if up:
            print(f"\tpid = {pid}")
        print(f"\tlast exit code = {state.get('status', '(never exited)')}")
        if state.get("signal"):
            print(f"\tlast terminating signal = {state['signal']}")
        print("}")
state_file.write_text(json.dumps(state))
'''


# -------------------------------------------------------------------- helpers


@dataclass
class Ctl:
    """The stand-in's recorded calls and state."""

    bin: Path

    def calls(self) -> list[list[str]]:
        path = self.bin / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.bin / "state.json").read_text())
        return data

    def update(self, **values: Any) -> None:
        (self.bin / "state.json").write_text(json.dumps({**self.state(), **values}))

    def forget_calls(self) -> None:
        (self.bin / "calls.jsonl").unlink(missing_ok=True)


@pytest.fixture
def ctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ctl:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("systemctl", "launchctl"):
        exe = bin_dir / name
        exe.write_text(FAKECTL.replace("{python}", PY))
        exe.chmod(0o755)
    workdir = write_bot(tmp_path / "remi")
    (bin_dir / "state.json").write_text(json.dumps({"workdir": str(workdir), "pid": 0}))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return Ctl(bin_dir)


# -------------------------------------------------------------------- systemd


@pytest.mark.parametrize(("text", "expected"), [
    ("MainPID=123\nActiveState=active\nSubState=running\nExecMainStatus=0\n",
     services.UnitStatus(123, "active", "running", 0)),
    ("MainPID=0\nActiveState=failed\nSubState=failed\nExecMainStatus=78\n",
     services.UnitStatus(0, "failed", "failed", 78)),
    ("MainPID=0\nExecMainStatus=9\nExecMainPID=77\nExecMainCode=2\n",
     services.UnitStatus(0, "", "", 9, 77, 2)),
    ("ActiveState=inactive\n", services.UnitStatus(0, "inactive", "", None)),
    ("MainPID=x\nweird line\n", services.UnitStatus(0, "", "", None)),
])
def test_parse_systemctl_show(text: str, expected: services.UnitStatus) -> None:
    assert services.parse_systemctl_show(text) == expected


def test_systemd_start_find_stop(tmp_path: Path, ctl: Ctl) -> None:
    manager = services.SystemdManager(systemd_target(tmp_path))
    assert manager.find() == []
    assert ctl.calls() == [["systemctl", "--user", *SHOW]]
    ctl.forget_calls()

    ident = manager.start()
    assert ctl.calls() == [["systemctl", "--user", "start", "remi.service"],
                           ["systemctl", "--user", *SHOW]]
    assert ident.pid == ctl.state()["pid"]
    assert ident.cmdline == (PY, "bot.py")
    assert manager.find() == [ident]
    ctl.forget_calls()

    result = manager.stop(ident, 5)
    assert ctl.calls() == [["systemctl", "--user", *SHOW],
                           ["systemctl", "--user", "stop", "remi.service"]]
    assert result.stopped
    assert gone(ident.pid)


def test_systemd_system_unit_has_no_user_flag(tmp_path: Path, ctl: Ctl) -> None:
    manager = services.SystemdManager(systemd_target(tmp_path, user_unit=False))
    ident = manager.start()
    assert ctl.calls() == [["systemctl", "start", "remi.service"], ["systemctl", *SHOW]]
    manager.stop(ident, 5)


def test_systemd_restart_returns_the_new_main_process(tmp_path: Path, ctl: Ctl) -> None:
    manager = services.SystemdManager(systemd_target(tmp_path))
    old = manager.start()
    ctl.forget_calls()
    new = manager.restart(old, 5)
    assert ["systemctl", "--user", "restart", "remi.service"] in ctl.calls()
    assert new.pid != old.pid
    assert gone(old.pid)
    manager.stop(None, 5)


def test_systemd_failure_is_a_process_error_with_its_output(tmp_path: Path, ctl: Ctl) -> None:
    ctl.update(fail="Failed to start remi.service: Unit remi.service not found.")
    manager = services.SystemdManager(systemd_target(tmp_path))
    with pytest.raises(ProcessError) as info:
        manager.start()
    assert info.value.operation == "systemctl start"
    assert "exited 4" in info.value.detail
    assert "Unit remi.service not found." in info.value.detail


def test_systemd_reports_and_stops_a_copy_outside_the_unit(tmp_path: Path, ctl: Ctl) -> None:
    """A duplicate started by hand is found beside the unit and stopped directly."""
    manager = services.SystemdManager(systemd_target(tmp_path, command=(PY, "bot.py")))
    main = manager.start()
    stray_pid = start_by_hand(tmp_path / "remi", PY, "bot.py")
    found = manager.find()
    assert [i.pid for i in found] == [main.pid, stray_pid]
    ctl.forget_calls()
    result = manager.stop(found[1], 2)
    assert result.stopped
    assert gone(stray_pid)
    assert not gone(main.pid)
    assert not any("stop" in call for call in ctl.calls())
    manager.stop(None, 5)


def test_systemd_stop_of_a_dead_ident_stops_the_units_new_process(tmp_path: Path,
                                                                  ctl: Ctl) -> None:
    """The unit replaced the process we knew: stop means the unit's current process."""
    manager = services.SystemdManager(systemd_target(tmp_path))
    old = manager.start()
    new = manager.restart(old, 5)
    ctl.forget_calls()
    result = manager.stop(old, 5)
    assert ["systemctl", "--user", "stop", "remi.service"] in ctl.calls()
    assert result.stopped
    assert gone(new.pid)


# -------------------------------------------------------------------- launchd


PRINT_SAMPLE = """gui/501/com.remi.bot = {
\tactive count = 1
\tpath = /Users/remi/Library/LaunchAgents/com.remi.bot.plist
\tstate = running

\tprogram = /usr/bin/python3
\targuments = {
\t\t/usr/bin/python3
\t\tmain.py
\t}

\tendpoints = {
\t\tstate = active
\t\tpid = 1
\t}
\tpid = 4242
\tlast exit code = (never exited)
}
"""


@pytest.mark.parametrize(("text", "expected"), [
    (PRINT_SAMPLE, services.JobStatus(4242, "running", None)),
    ("gui/501/x = {\n\tstate = not running\n\tlast exit code = 78: EX_CONFIG\n}\n",
     services.JobStatus(None, "not running", 78)),
    ("gui/501/x = {\n\tstate = not running\n\tlast exit code = 1\n}\n",
     services.JobStatus(None, "not running", 1)),
    ("", services.JobStatus(None, "", None)),
    ("gui/501/x = {\n\tlast exit code = 0\n\tlast terminating signal = Killed: 9\n}\n",
     services.JobStatus(None, "", 0, 9)),
])
def test_parse_launchctl_print(text: str, expected: services.JobStatus) -> None:
    assert services.parse_launchctl_print(text) == expected


def test_launchd_start_restart_stop(tmp_path: Path, ctl: Ctl) -> None:
    service = f"gui/{os.getuid()}/com.remi.bot"
    manager = services.LaunchdManager(launchd_target(tmp_path))
    assert manager.find() == []
    ctl.forget_calls()

    ident = manager.start()
    assert ctl.calls() == [["launchctl", "kickstart", service], ["launchctl", "print", service]]
    assert ident.pid == ctl.state()["pid"]
    ctl.forget_calls()

    new = manager.restart(ident, 5)
    assert ctl.calls()[:2] == [["launchctl", "print", service],
                               ["launchctl", "kickstart", "-k", service]]
    assert new.pid != ident.pid
    assert gone(ident.pid)
    ctl.forget_calls()

    result = manager.stop(None, 5)
    assert ctl.calls() == [["launchctl", "print", service],
                           ["launchctl", "kill", "SIGTERM", service]]
    assert (result.stopped, result.killed) == (True, False)
    assert gone(new.pid)


def test_launchd_stop_escalates_to_sigkill_after_grace(tmp_path: Path, ctl: Ctl) -> None:
    write_bot(tmp_path / "remi", TERM_IGNORER)
    service = f"gui/{os.getuid()}/com.remi.bot"
    manager = services.LaunchdManager(launchd_target(tmp_path))
    ident = manager.start()
    wait_for((tmp_path / "remi/ready").exists)
    ctl.forget_calls()
    result = manager.stop(ident, 0.3)
    assert (result.stopped, result.killed) == (True, True)
    assert ["launchctl", "kill", "SIGTERM", service] in ctl.calls()
    assert ["launchctl", "kill", "SIGKILL", service] in ctl.calls()
    assert gone(ident.pid)


def test_launchd_wait_exit_notices_the_job_dying(tmp_path: Path, ctl: Ctl) -> None:
    manager = services.LaunchdManager(launchd_target(tmp_path))
    ident = manager.start()
    assert manager.wait_exit(ident, 0) is None
    os.kill(ident.pid, signal.SIGKILL)
    info = manager.wait_exit(ident, 2)
    assert info is not None
    assert (info.pid, info.returncode, info.known) == (ident.pid, None, False)
    assert ctl.state()["pid"] == ident.pid


@pytest.mark.parametrize(("recorded", "expected"), [
    ({"status": 78}, (78, None)),
    ({"status": 0, "signal": "Killed: 9"}, (-9, 9)),
])
def test_launchd_wait_exit_reports_the_jobs_last_exit(
        tmp_path: Path, ctl: Ctl, recorded: dict[str, Any],
        expected: tuple[int, int | None]) -> None:
    manager = services.LaunchdManager(launchd_target(tmp_path))
    ident = manager.start()
    ctl.update(**recorded)
    os.kill(ident.pid, signal.SIGKILL)
    wait_for(lambda: gone(ident.pid))
    ctl.update(pid=0)  # launchd no longer runs it
    info = manager.wait_exit(ident, 2)
    assert info is not None
    assert (info.returncode, info.signal, info.known) == (*expected, True)


@pytest.mark.parametrize(("code", "status", "expected"), [
    (1, 3, (3, None)),  # CLD_EXITED: the exit code
    (2, 9, (-9, 9)),  # CLD_KILLED: the signal
])
def test_systemd_wait_exit_reports_exec_main_status(
        tmp_path: Path, ctl: Ctl, code: int, status: int,
        expected: tuple[int, int | None]) -> None:
    manager = services.SystemdManager(systemd_target(tmp_path))
    ident = manager.start()
    os.kill(ident.pid, signal.SIGKILL)
    wait_for(lambda: gone(ident.pid))
    ctl.update(code=code, status=status)  # what systemd recorded for that main pid
    info = manager.wait_exit(ident, 2)
    assert info is not None
    assert (info.returncode, info.signal, info.known) == (*expected, True)


def test_systemd_exit_of_another_main_pid_stays_unknown(tmp_path: Path, ctl: Ctl) -> None:
    """systemd's Exec* fields already describe a newer main process: not ours to report."""
    manager = services.SystemdManager(systemd_target(tmp_path))
    ident = manager.start()
    os.kill(ident.pid, signal.SIGKILL)
    wait_for(lambda: gone(ident.pid))
    ctl.update(pid=ident.pid + 1, code=1, status=0)
    info = manager.wait_exit(ident, 5)
    assert info is not None
    assert (info.returncode, info.known) == (None, False)


async def test_a_units_main_process_is_awaited_by_the_shared_waiter(
        tmp_path: Path, ctl: Ctl) -> None:
    """The unit's MainPID is watched like any process (pidfd or polling, no thread per
    target); how it ended is then asked of systemd, as ``wait_exit`` does."""
    manager = services.SystemdManager(systemd_target(tmp_path))
    ident = manager.start()
    exits = ExitWatch()
    try:
        waiting = asyncio.ensure_future(exits.exited(ident))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        ctl.update(code=2, status=9)  # what systemd will have recorded for that main pid
        os.kill(ident.pid, signal.SIGKILL)
        seen = await asyncio.wait_for(waiting, 20)
        assert (seen.pid, seen.known) == (ident.pid, False)  # not our child
        info = await asyncio.to_thread(manager.exit_status, seen)
        assert (info.returncode, info.signal, info.known) == (-9, 9, True)
    finally:
        exits.close()
