"""The event-loop beacon: a real asyncio child writes it; the reader tolerates anything."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from remi_ops import beacon
from remi_ops.beacon import BeaconReading, read_beacon
from remi_ops.testing import wait_until as wait_for

ROOT = Path(__file__).resolve().parents[2]
StartChild = Callable[[float, float], "subprocess.Popen[bytes]"]

#: a tiny "bot": beats for ``healthy`` seconds, then blocks its loop in a named function
CHILD = textwrap.dedent("""
    import asyncio, sys, time
    from remi_ops import beacon

    def fetch_track_blocking(seconds):
        time.sleep(seconds)

    async def main(path, healthy, blocked):
        beacon.start(path, interval_s=0.1, dump_after_s=0.3)
        await asyncio.sleep(healthy)
        fetch_track_blocking(blocked)
        await asyncio.sleep(60)

    asyncio.run(main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3])))
""")


@pytest.fixture
def child(tmp_path: Path) -> Iterator[StartChild]:
    """Start the child program (always killed afterwards); stderr goes to ``stderr.txt``."""
    started: list[subprocess.Popen[bytes]] = []
    stderr = (tmp_path / "stderr.txt").open("wb")

    def start(healthy: float, blocked: float) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONFAULTHANDLER": ""}
        script = tmp_path / "bot.py"
        script.write_text(CHILD, encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / "beacon.json"), str(healthy),
             str(blocked)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait(timeout=5)
    stderr.close()


def reading(path: Path) -> BeaconReading | None:
    return read_beacon(path, time.time())


def stuck(path: Path) -> BeaconReading | None:
    """A reading that carries a stuck stack, else None."""
    found = reading(path)
    return found if found is not None and found.stuck_stack else None


@pytest.mark.integration
def test_beacon_file_appears_with_fresh_beats(child: StartChild, tmp_path: Path) -> None:
    """A healthy loop: the file is fresh, beats are fresh, nothing is blocked."""
    proc = child(30, 0)
    found = wait_for(lambda: reading(tmp_path / "beacon.json"))
    time.sleep(0.25)
    now = wait_for(lambda: reading(tmp_path / "beacon.json"))
    assert found.pid == proc.pid == now.pid
    assert now.age_s < 1.0
    assert now.beat_age_s < 1.0
    assert now.blocked_for_s == 0.0
    assert now.stuck_stack is None
    assert now.interval_s == 0.1
    assert not now.stopped


@pytest.mark.integration
def test_blocked_loop_shows_growing_block_and_the_stuck_stack(child: StartChild,
                                                               tmp_path: Path) -> None:
    """The writer thread keeps writing while the loop is stuck, and names the blocking call."""
    child(0.2, 30)
    path = tmp_path / "beacon.json"
    first = wait_for(lambda: stuck(path))
    time.sleep(0.3)
    wait_for(lambda: (r := stuck(path)) is not None and r.blocked_for_s > first.blocked_for_s)
    later = stuck(path)
    assert later is not None
    assert later.stuck_stack is not None
    assert "in fetch_track_blocking" in later.stuck_stack
    assert "time.sleep(seconds)" in later.stuck_stack
    assert later.age_s < 0.5  # written_at stays fresh …
    assert later.beat_age_s > 0.3  # … while the last beat goes stale


@pytest.mark.integration
def test_sigusr1_dumps_every_stack_to_stderr(child: StartChild, tmp_path: Path) -> None:
    """``kill -USR1`` → faulthandler writes all threads' stacks; the process lives on."""
    proc = child(30, 0)
    wait_for(lambda: reading(tmp_path / "beacon.json"))
    proc.send_signal(signal.SIGUSR1)
    stderr = tmp_path / "stderr.txt"
    wait_for(lambda: "most recent call first" in stderr.read_text())
    dump = stderr.read_text()
    assert "Thread 0x" in dump
    assert proc.poll() is None


# --------------------------------------------------------------------------- in-process


async def test_start_is_idempotent_and_stop_marks_the_file(tmp_path: Path) -> None:
    """A second start returns the running beacon; stop leaves a file that says so."""
    path = tmp_path / "b.json"
    try:
        assert beacon.start(path, interval_s=0.05) == path
        assert beacon.start(tmp_path / "other.json") == path
        assert beacon.running_path() == path
        await asyncio.sleep(0.12)
    finally:
        beacon.stop()
    result = read_beacon(path, time.time())
    assert result is not None
    assert result.stopped
    assert beacon.running_path() is None
    assert not (tmp_path / "other.json").exists()
    beacon.stop()  # a second stop is harmless


async def test_in_process_block_is_captured_off_the_loop(tmp_path: Path) -> None:
    """The stuck stack is captured by the thread while this coroutine blocks the loop."""
    path = tmp_path / "b.json"

    def score_track_sync() -> None:
        time.sleep(0.5)

    try:
        beacon.start(path, interval_s=0.05, dump_after_s=0.15)
        await asyncio.sleep(0.06)
        score_track_sync()
        stuck = read_beacon(path, time.time())
    finally:
        beacon.stop()
    assert stuck is not None
    assert stuck.stuck_stack is not None
    assert "in score_track_sync" in stuck.stuck_stack
    assert stuck.blocked_for_s > 0.2


def test_start_outside_a_running_loop_fails_loudly(tmp_path: Path) -> None:
    """The beacon must be started from inside the loop it watches."""
    with pytest.raises(RuntimeError):
        beacon.start(tmp_path / "b.json")


async def test_path_and_timings_come_from_the_environment(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """$REMI_BEACON_FILE and $REMI_BEACON_INTERVAL_S configure a bare ``start()``."""
    monkeypatch.setenv(beacon.ENV_FILE, str(tmp_path / "env.json"))
    monkeypatch.setenv(beacon.ENV_INTERVAL, "0.05")
    try:
        assert beacon.start() == tmp_path / "env.json"
        await asyncio.sleep(0.12)
    finally:
        beacon.stop()
    result = read_beacon(tmp_path / "env.json", time.time())
    assert result is not None
    assert result.interval_s == 0.05


# --------------------------------------------------------------------------- reader

GOOD: dict[str, Any] = {
    "schema": 1, "pid": 42, "written_at": 1000.0, "last_beat_at": 990.0, "loop_lag_s": 0.01,
    "max_lag_s": 0.5, "interval_s": 2.0, "blocked_for_s": 8.0,
    "stuck_stack": "Loop thread stack …\n  File \"x.py\", line 1, in fetch_track\n"}


def test_read_beacon_ages_against_the_readers_clock(tmp_path: Path) -> None:
    """age_s and beat_age_s are now − written_at and now − last_beat_at."""
    path = tmp_path / "b.json"
    path.write_text(json.dumps(GOOD))
    assert read_beacon(path, 1003.0) == BeaconReading(
        pid=42, age_s=3.0, beat_age_s=13.0, loop_lag_s=0.01, max_lag_s=0.5, blocked_for_s=8.0,
        interval_s=2.0, stuck_stack=GOOD["stuck_stack"], stopped=False)


@pytest.mark.parametrize("content", [
    None,  # missing
    "",  # empty
    "not json at all",
    json.dumps(GOOD)[:40],  # partial write
    "[1, 2, 3]",
    json.dumps({**GOOD, "schema": 2}),
    json.dumps({k: v for k, v in GOOD.items() if k != "last_beat_at"}),
    json.dumps({**GOOD, "written_at": "yesterday"}),
    json.dumps({**GOOD, "loop_lag_s": True}),
    json.dumps({**GOOD, "blocked_for_s": None}),
    '{"schema": 1, "written_at": NaN}',
], ids=["missing", "empty", "garbled", "partial", "list", "schema", "field-missing",
        "field-text", "field-bool", "field-null", "nan"])
def test_read_beacon_returns_none_for_unusable_files(tmp_path: Path, content: str | None) -> None:
    """Missing, garbled, partial or foreign files read as None, never an exception."""
    path = tmp_path / "b.json"
    if content is not None:
        path.write_text(content)
    assert read_beacon(path, 1003.0) is None


def test_read_beacon_survives_binary_garbage(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 read as None."""
    path = tmp_path / "b.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert read_beacon(path, 0.0) is None


#: what the beacon may import besides the standard library: itself stdlib-only
BEACON_COMPANIONS = {"remi_ops.atomicfile": ROOT / "remi_ops" / "atomicfile.py",
                     **{f"remi_ops.beacon.{name}": ROOT / "remi_ops" / "beacon" / f"{name}.py"
                        for name in ("reader", "check", "sdnotify")}}


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            modules.add(node.module or "")
    return modules


def test_beacon_imports_only_the_standard_library() -> None:
    """The drop-in must not pull in anything Remi does not already have."""
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for path in [*(ROOT / "remi_ops" / "beacon").glob("*.py"), *BEACON_COMPANIONS.values()]:
        modules = _imported_modules(path) - set(BEACON_COMPANIONS)
        foreign = {m for m in modules if m.split(".")[0] not in stdlib}
        assert not foreign, (path.name, foreign)
