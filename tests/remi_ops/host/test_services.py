"""Commands and process managers with real processes: run_command, direct, systemd, launchd.

systemd and launchd are played by a stand-in executable named ``systemctl``/``launchctl``
put first on PATH: it records its argv, prints canned ``show``/``print`` output and keeps a
small real service process alive, so the managers' identity checks see real pids.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from bubabot_local.simkit import gone
from bubabot_local.simkit import wait_until as wait_for

from remi_ops.config import TargetSettings
from remi_ops.exceptions import ProcessError, SpawnError
from remi_ops.host import process
from remi_ops.host import services as managers

pytestmark = pytest.mark.integration

PY = sys.executable
SHOW = ["show", "remi.service", "--property=MainPID,ActiveState,SubState,ExecMainStatus"]

SLEEPER = """
import time
time.sleep(60)
"""
TERM_IGNORER = """
import pathlib, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pathlib.Path("ready").write_text("ready")
time.sleep(60)
"""
LAUNCHER = """
import subprocess, sys
p = subprocess.Popen(sys.argv[2:], cwd=sys.argv[1], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
print(p.pid, flush=True)
"""
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
        print("}")
state_file.write_text(json.dumps(state))
'''


# --------------------------------------------------------------------------- helpers




def write_bot(workdir: Path, script: str = SLEEPER) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "bot.py").write_text(textwrap.dedent(script))
    return workdir


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


def start_by_hand(cwd: Path, *argv: str) -> int:
    """Start a process the way a person would: not our child."""
    launcher = cwd.parent / "launcher.py"
    launcher.write_text(textwrap.dedent(LAUNCHER))
    out = subprocess.run([PY, str(launcher), str(cwd), *argv], capture_output=True,
                         text=True, check=True, timeout=10)
    return int(out.stdout.strip())


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path: Path) -> Iterator[None]:
    yield
    kill_leftovers(tmp_path)


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


def systemd_target(tmp_path: Path, **extra: Any) -> TargetSettings:
    return TargetSettings.model_validate({"name": "remi", "workdir": tmp_path / "remi",
                                          "manager": "systemd", "unit": "remi.service",
                                          **extra})


def launchd_target(tmp_path: Path, **extra: Any) -> TargetSettings:
    return TargetSettings.model_validate({"name": "remi", "workdir": tmp_path / "remi",
                                          "manager": "launchd", "label": "com.remi.bot",
                                          **extra})


def direct_target(workdir: Path) -> TargetSettings:
    return TargetSettings(name="remi", workdir=workdir, command=(PY, "bot.py"))


# --------------------------------------------------------------------------- run_command


def script(tmp_path: Path, name: str, code: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(code))
    return str(path)


def test_run_command_interleaves_output_and_reports_the_exit_code(tmp_path: Path) -> None:
    code = """
    import os, sys
    print("one", flush=True)
    print("two", file=sys.stderr, flush=True)
    print(os.environ["REMI_X"], os.getcwd(), flush=True)
    sys.exit(3)
    """
    argv = [PY, script(tmp_path, "cmd.py", code)]
    result = process.run_command(argv, cwd=tmp_path, env={"REMI_X": "x"}, timeout_s=10)
    assert result.argv == tuple(argv)
    assert result.output == f"one\ntwo\nx {tmp_path.resolve()}\n"
    assert (result.exit_code, result.timed_out, result.ok) == (3, False, False)


def test_run_command_timeout_kills_the_whole_tree(tmp_path: Path) -> None:
    code = """
    import os, subprocess, sys, time
    for name, escape in (("stay", False), ("escape", True)):
        subprocess.Popen([sys.executable, "-c",
            f"import os, pathlib, time; pathlib.Path('{name}.tmp').write_text(str(os.getpid())); "
            f"os.rename('{name}.tmp', '{name}.pid'); time.sleep(60)"],
            start_new_session=escape)
    print("started", flush=True)
    time.sleep(60)
    """
    argv = [PY, script(tmp_path, "cmd.py", code)]
    started = time.monotonic()
    result = process.run_command(argv, cwd=tmp_path, env=None, timeout_s=1.0)
    assert time.monotonic() - started < 3
    assert (result.timed_out, result.exit_code) == (True, None)
    assert "started" in result.output
    for name in ("stay", "escape"):
        pid = int((tmp_path / f"{name}.pid").read_text())
        wait_for(functools.partial(gone, pid), 2)


def test_run_command_does_not_wait_for_a_background_grandchild(tmp_path: Path) -> None:
    """A daemon that keeps the pipe open costs a short drain, not the whole timeout."""
    code = """
    import subprocess, sys
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    print("done", flush=True)
    """
    started = time.monotonic()
    result = process.run_command([PY, script(tmp_path, "cmd.py", code)], cwd=tmp_path,
                                 env=None, timeout_s=20)
    assert time.monotonic() - started < 3
    assert (result.exit_code, result.timed_out, result.output) == (0, False, "done\n")


def test_run_command_times_out_a_command_that_closed_its_output(tmp_path: Path) -> None:
    code = """
    import os, time
    os.close(1)
    os.close(2)
    time.sleep(30)
    """
    started = time.monotonic()
    result = process.run_command([PY, script(tmp_path, "cmd.py", code)], cwd=None,
                                 env=None, timeout_s=0.5)
    assert time.monotonic() - started < 3
    assert (result.timed_out, result.exit_code) == (True, None)


def test_run_command_output_is_bounded_keeping_head_and_tail(tmp_path: Path) -> None:
    code = """
    import sys
    sys.stdout.write("HEAD" + "x" * 100_000 + "TAIL")
    """
    result = process.run_command([PY, script(tmp_path, "cmd.py", code)], cwd=None,
                                 env=None, timeout_s=10, max_output_bytes=1000)
    assert result.output.startswith("HEAD")
    assert result.output.endswith("TAIL")
    assert "bytes omitted" in result.output
    assert len(result.output) < 1100


def test_run_command_decodes_invalid_utf8_with_replacement(tmp_path: Path) -> None:
    code = """
    import sys
    sys.stdout.buffer.write(b"ok \\xff\\xfe end")
    """
    result = process.run_command([PY, script(tmp_path, "cmd.py", code)], cwd=None,
                                 env=None, timeout_s=10)
    assert result.output == "ok \ufffd\ufffd end"


def test_run_command_that_cannot_start_is_a_spawn_error(tmp_path: Path) -> None:
    with pytest.raises(SpawnError) as info:
        process.run_command(["no-such-program-xyz"], cwd=None, env=None, timeout_s=5)
    assert info.value.detail == "command 'no-such-program-xyz' not found or not executable"


def test_py_spy_dump_needs_py_spy_on_path(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert process.which("py-spy") is None
    assert process.py_spy_dump(os.getpid(), 5) is None
    spy = tmp_path / "py-spy"
    spy.write_text(f"#!{PY}\nimport sys\nprint('Thread 1 (idle)', sys.argv[1:])\n")
    spy.chmod(0o755)
    assert process.py_spy_dump(123, 5) == "Thread 1 (idle) ['dump', '--pid', '123']\n"


# --------------------------------------------------------------------------- direct


def test_direct_start_writes_the_pidfile_and_never_duplicates(tmp_path: Path) -> None:
    manager = process.DirectManager(direct_target(write_bot(tmp_path / "remi")),
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
    manager = process.DirectManager(direct_target(write_bot(tmp_path / "remi")),
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
    manager = process.DirectManager(direct_target(workdir), tmp_path / "state")
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
    manager = process.DirectManager(direct_target(workdir), tmp_path / "state")
    older = start_by_hand(workdir, PY, "bot.py")
    younger = start_by_hand(workdir, PY, "bot.py")
    manager.pidfile.parent.mkdir(parents=True)
    manager.pidfile.write_text("{garbage")
    assert [i.pid for i in manager.find()] == [older, younger]
    hint = process.identify(younger)
    assert hint is not None
    process.write_pidfile(manager.pidfile, hint)
    assert [i.pid for i in manager.find()] == [younger, older]


def test_direct_start_failure_is_a_spawn_error(tmp_path: Path) -> None:
    manager = process.DirectManager(direct_target(tmp_path / "missing"), tmp_path / "state")
    with pytest.raises(SpawnError, match="does not exist"):
        manager.start()


def test_make_manager_picks_the_configured_kind(tmp_path: Path) -> None:
    direct = process.make_manager(direct_target(tmp_path), tmp_path)
    systemd = process.make_manager(systemd_target(tmp_path), tmp_path)
    launchd = process.make_manager(launchd_target(tmp_path), tmp_path)
    assert isinstance(direct, process.DirectManager)
    assert isinstance(systemd, managers.SystemdManager)
    assert isinstance(launchd, managers.LaunchdManager)


# --------------------------------------------------------------------------- systemd


@pytest.mark.parametrize(("text", "expected"), [
    ("MainPID=123\nActiveState=active\nSubState=running\nExecMainStatus=0\n",
     managers.UnitStatus(123, "active", "running", 0)),
    ("MainPID=0\nActiveState=failed\nSubState=failed\nExecMainStatus=78\n",
     managers.UnitStatus(0, "failed", "failed", 78)),
    ("ActiveState=inactive\n", managers.UnitStatus(0, "inactive", "", None)),
    ("MainPID=x\nweird line\n", managers.UnitStatus(0, "", "", None)),
])
def test_parse_systemctl_show(text: str, expected: managers.UnitStatus) -> None:
    assert managers.parse_systemctl_show(text) == expected


def test_systemd_start_find_stop(tmp_path: Path, ctl: Ctl) -> None:
    manager = managers.SystemdManager(systemd_target(tmp_path))
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
    manager = managers.SystemdManager(systemd_target(tmp_path, user_unit=False))
    ident = manager.start()
    assert ctl.calls() == [["systemctl", "start", "remi.service"], ["systemctl", *SHOW]]
    manager.stop(ident, 5)


def test_systemd_restart_returns_the_new_main_process(tmp_path: Path, ctl: Ctl) -> None:
    manager = managers.SystemdManager(systemd_target(tmp_path))
    old = manager.start()
    ctl.forget_calls()
    new = manager.restart(old, 5)
    assert ["systemctl", "--user", "restart", "remi.service"] in ctl.calls()
    assert new.pid != old.pid
    assert gone(old.pid)
    manager.stop(None, 5)


def test_systemd_failure_is_a_process_error_with_its_output(tmp_path: Path, ctl: Ctl) -> None:
    ctl.update(fail="Failed to start remi.service: Unit remi.service not found.")
    manager = managers.SystemdManager(systemd_target(tmp_path))
    with pytest.raises(ProcessError) as info:
        manager.start()
    assert info.value.operation == "systemctl start"
    assert "exited 4" in info.value.detail
    assert "Unit remi.service not found." in info.value.detail


def test_systemd_reports_and_stops_a_copy_outside_the_unit(tmp_path: Path, ctl: Ctl) -> None:
    """A duplicate started by hand is found beside the unit and stopped directly."""
    manager = managers.SystemdManager(systemd_target(tmp_path, command=(PY, "bot.py")))
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


# --------------------------------------------------------------------------- launchd


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
    (PRINT_SAMPLE, managers.JobStatus(4242, "running", None)),
    ("gui/501/x = {\n\tstate = not running\n\tlast exit code = 78: EX_CONFIG\n}\n",
     managers.JobStatus(None, "not running", 78)),
    ("gui/501/x = {\n\tstate = not running\n\tlast exit code = 1\n}\n",
     managers.JobStatus(None, "not running", 1)),
    ("", managers.JobStatus(None, "", None)),
])
def test_parse_launchctl_print(text: str, expected: managers.JobStatus) -> None:
    assert managers.parse_launchctl_print(text) == expected


def test_launchd_start_restart_stop(tmp_path: Path, ctl: Ctl) -> None:
    service = f"gui/{os.getuid()}/com.remi.bot"
    manager = managers.LaunchdManager(launchd_target(tmp_path))
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
    manager = managers.LaunchdManager(launchd_target(tmp_path))
    ident = manager.start()
    wait_for((tmp_path / "remi/ready").exists)
    ctl.forget_calls()
    result = manager.stop(ident, 0.3)
    assert (result.stopped, result.killed) == (True, True)
    assert ["launchctl", "kill", "SIGTERM", service] in ctl.calls()
    assert ["launchctl", "kill", "SIGKILL", service] in ctl.calls()
    assert gone(ident.pid)


def test_launchd_wait_exit_notices_the_job_dying(tmp_path: Path, ctl: Ctl) -> None:
    manager = managers.LaunchdManager(launchd_target(tmp_path))
    ident = manager.start()
    assert manager.wait_exit(ident, 0) is None
    os.kill(ident.pid, signal.SIGKILL)
    info = manager.wait_exit(ident, 2)
    assert info is not None
    assert (info.pid, info.returncode) == (ident.pid, None)
    assert ctl.state()["pid"] == ident.pid


def test_systemd_stop_of_a_dead_ident_stops_the_units_new_process(tmp_path: Path,
                                                                  ctl: Ctl) -> None:
    """The unit replaced the process we knew: stop means the unit's current process."""
    manager = managers.SystemdManager(systemd_target(tmp_path))
    old = manager.start()
    new = manager.restart(old, 5)
    ctl.forget_calls()
    result = manager.stop(old, 5)
    assert ["systemctl", "--user", "stop", "remi.service"] in ctl.calls()
    assert result.stopped
    assert gone(new.pid)
