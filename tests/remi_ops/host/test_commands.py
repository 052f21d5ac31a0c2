"""Short commands with real processes: output, exit code, timeout kills the tree."""

from __future__ import annotations

import functools
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest
from bubabot_local.simkit import gone

from remi_ops import host
from remi_ops.exceptions import SpawnError
from remi_ops.testing import wait_until as wait_for

pytestmark = pytest.mark.integration

PY = sys.executable


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
    result = host.run_command(argv, cwd=tmp_path, env={"REMI_X": "x"}, timeout_s=10)
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
    result = host.run_command(argv, cwd=tmp_path, env=None, timeout_s=1.0)
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
    result = host.run_command([PY, script(tmp_path, "cmd.py", code)], cwd=tmp_path,
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
    result = host.run_command([PY, script(tmp_path, "cmd.py", code)], cwd=None,
                                 env=None, timeout_s=0.5)
    assert time.monotonic() - started < 3
    assert (result.timed_out, result.exit_code) == (True, None)


def test_run_command_output_is_bounded_keeping_head_and_tail(tmp_path: Path) -> None:
    code = """
    import sys
    sys.stdout.write("HEAD" + "x" * 100_000 + "TAIL")
    """
    result = host.run_command([PY, script(tmp_path, "cmd.py", code)], cwd=None,
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
    result = host.run_command([PY, script(tmp_path, "cmd.py", code)], cwd=None,
                                 env=None, timeout_s=10)
    assert result.output == "ok \ufffd\ufffd end"


def test_run_command_that_cannot_start_is_a_spawn_error(tmp_path: Path) -> None:
    with pytest.raises(SpawnError) as info:
        host.run_command(["no-such-program-xyz"], cwd=None, env=None, timeout_s=5)
    assert info.value.detail == "command 'no-such-program-xyz' not found or not executable"


def test_py_spy_dump_needs_py_spy_on_path(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert host.which("py-spy") is None
    assert host.py_spy_dump(os.getpid(), 5) is None
    spy = tmp_path / "py-spy"
    spy.write_text(f"#!{PY}\nimport sys\nprint('Thread 1 (idle)', sys.argv[1:])\n")
    spy.chmod(0o755)
    assert host.py_spy_dump(123, 5) == "Thread 1 (idle) ['dump', '--pid', '123']\n"
