"""``python -m remi_ops.beacon check``: real beacon files, the real command as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from remi_ops.beacon import check as beacon_check
from remi_ops.config import HealthSettings
from remi_ops.testing import wait_until

ROOT = Path(__file__).resolve().parents[2]


def run_check(*args: str, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The command exactly as a probe runs it: ``python -m remi_ops.beacon check …``."""
    base = {k: v for k, v in os.environ.items() if k != "REMI_BEACON_FILE"}
    return subprocess.run([sys.executable, "-m", "remi_ops.beacon", "check", *args],
                          env={**base, "PYTHONPATH": str(ROOT), **(env or {})}, cwd=cwd,
                          capture_output=True, text=True, timeout=30, check=False)


def beacon_doc(**changes: Any) -> dict[str, Any]:
    """A beacon as the writer leaves it, written just now by a healthy loop."""
    now = time.time()
    return {"schema": 1, "pid": 4242, "written_at": now, "last_beat_at": now - 0.5,
            "loop_lag_s": 0.002, "max_lag_s": 0.01, "interval_s": 2.0, "blocked_for_s": 0.0,
            "stuck_stack": None, "stopped": False, **changes}


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout + result.stderr
    return lines[0]


@pytest.mark.integration
def test_fresh_beacon_on_time_exits_0(tmp_path: Path) -> None:
    """A fresh file and an on-time loop: healthy, exit 0, one line."""
    result = run_check("--file", str(write(tmp_path / "b.json", beacon_doc())))
    assert result.returncode == 0, result.stdout + result.stderr
    assert one_line(result).startswith("healthy: beacon written ")
    assert result.stderr == ""


@pytest.mark.integration
@pytest.mark.parametrize(("changes", "says"), [
    ({"written_at": -20.0, "last_beat_at": -20.5}, "last written 20."),
    ({"loop_lag_s": 75.0}, "the event loop is 75.0 s late (over 60 s)"),
    ({"blocked_for_s": 850.0, "last_beat_at": -851.9}, "the event loop is 850."),
    ({"stopped": True}, "the beacon was stopped"),
], ids=["stale", "lag-over", "blocked", "stopped"])
def test_unhealthy_beacons_exit_1_with_why(tmp_path: Path, changes: dict[str, Any],
                                           says: str) -> None:
    """Stale, late, blocked or stopped: exit 1, one line naming the reason."""
    now = time.time()
    doc = beacon_doc(**{k: now + v if k.endswith("_at") else v for k, v in changes.items()})
    result = run_check("--file", str(write(tmp_path / "b.json", doc)))
    assert result.returncode == 1
    line = one_line(result)
    assert line.startswith("unhealthy: ")
    assert says in line


@pytest.mark.integration
def test_missing_file_exits_1_and_names_it(tmp_path: Path) -> None:
    """No file (Remi never started its beacon): exit 1, the path in the line."""
    result = run_check("--file", str(tmp_path / "nowhere.json"))
    assert result.returncode == 1
    assert one_line(result) == (f"unhealthy: no beacon file at {tmp_path / 'nowhere.json'} "
                                "(is beacon.start() called in Remi, with the same "
                                "$REMI_BEACON_FILE?)")


@pytest.mark.integration
@pytest.mark.parametrize("content", [b"not json", b"\xff\xfe\x00", b'{"schema": 7}', b""],
                         ids=["text", "binary", "schema", "empty"])
def test_garbage_file_exits_1_without_a_traceback(tmp_path: Path, content: bytes) -> None:
    """Whatever is in the file, one line and exit 1, never a traceback."""
    path = tmp_path / "b.json"
    path.write_bytes(content)
    result = run_check("--file", str(path))
    assert result.returncode == 1
    assert one_line(result) == f"unhealthy: {path} is not a beacon file (unreadable, not " \
                               "JSON, or another schema)"
    assert "Traceback" not in result.stderr


@pytest.mark.integration
def test_thresholds_and_the_environment_are_honoured(tmp_path: Path) -> None:
    """--max-age-s / --max-lag-s move the line; the file comes from $REMI_BEACON_FILE."""
    path = write(tmp_path / "env.json", beacon_doc(loop_lag_s=3.0))
    env = {"REMI_BEACON_FILE": str(path)}
    assert run_check(env=env).returncode == 0
    strict = run_check("--max-lag-s", "2.5", env=env)
    assert strict.returncode == 1
    assert "over 2.5 s" in one_line(strict)
    write(path, beacon_doc(written_at=time.time() - 5))
    assert run_check("--max-age-s", "4", env=env).returncode == 1
    assert run_check(env=env).returncode == 0


@pytest.mark.integration
@pytest.mark.parametrize("args", [["--max-lag-s", "soon"], ["--max-age-s", "0"], ["--bogus"]],
                         ids=["text", "zero", "unknown"])
def test_bad_arguments_exit_1_with_one_line(tmp_path: Path, args: list[str]) -> None:
    """A typo in a probe is unhealthy (1, not Docker's reserved 2), said in one line."""
    result = run_check(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("python -m remi_ops.beacon")
    assert "(see --help)" in result.stderr


#: a "bot" whose loop beats for a while, then blocks in a coroutine (the seed incident)
BOT = textwrap.dedent("""
    import asyncio, sys, time
    from remi_ops import beacon

    async def main(path):
        beacon.start(path, interval_s=0.1, dump_after_s=0.3)
        await asyncio.sleep(float(sys.argv[2]))
        time.sleep(60)  # a blocking call on the loop

    asyncio.run(main(sys.argv[1]))
""")


@pytest.fixture
def blocking_bot(tmp_path: Path) -> Iterator[Path]:
    """A real process with a real beacon: healthy for 4 s, then its loop blocks."""
    script = tmp_path / "bot.py"
    script.write_text(BOT, encoding="utf-8")
    path = tmp_path / "beacon.json"
    proc = subprocess.Popen([sys.executable, str(script), str(path), "4"],
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield path
    finally:
        proc.kill()
        proc.wait(timeout=5)


@pytest.mark.integration
def test_a_running_beacon_is_healthy_until_its_loop_blocks(blocking_bot: Path) -> None:
    """The writer keeps the file fresh while the loop is stuck; the lag makes it unhealthy."""
    wait_until(blocking_bot.exists)
    first = run_check("--file", str(blocking_bot), "--max-lag-s", "1")
    assert first.returncode == 0, first.stdout

    def unhealthy() -> subprocess.CompletedProcess[str] | None:
        result = run_check("--file", str(blocking_bot), "--max-lag-s", "1")
        return result if result.returncode == 1 else None

    blocked = wait_until(unhealthy, timeout=30)
    assert "the event loop is" in one_line(blocked)
    assert "something blocks it" in one_line(blocked)


def test_defaults_are_the_watchers_thresholds() -> None:
    """--max-age-s and --max-lag-s default to beacon_stale_s and hang_threshold_s."""
    health = HealthSettings()
    assert health.beacon_stale_s == beacon_check.DEFAULT_MAX_AGE_S
    assert health.hang_threshold_s == beacon_check.DEFAULT_MAX_LAG_S
