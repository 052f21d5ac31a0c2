"""Local mode for real: emulator, Bubabot, the simulator as a child process, the console.

A person types through ``Typist`` (an async line source) and reads ``out``: what a
terminal user would see. Every process the run starts has its cwd under ``tmp_path``, so
"nothing left behind" is checked with psutil over exactly those.
"""

from __future__ import annotations

import asyncio
import io
import re
import time
from pathlib import Path

import psutil
import pytest
from bubabot_local.mode import run_local

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


class Typist:
    """Lines "typed" into the console; ``None`` ends the input (Ctrl-D)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    def type(self, line: str | None) -> None:
        self.queue.put_nowait(line)

    def __aiter__(self) -> Typist:
        return self

    async def __anext__(self) -> str:
        line = await self.queue.get()
        if line is None:
            raise StopAsyncIteration
        return line


def processes_under(root: Path) -> list[psutil.Process]:
    """Live processes whose working directory is inside ``root`` (the simulator's is)."""
    found = []
    for proc in psutil.process_iter(["cwd", "status"]):
        cwd = proc.info["cwd"]
        if cwd and Path(cwd).is_relative_to(root) and proc.info["status"] != "zombie":
            found.append(proc)
    return found


async def shows(out: io.StringIO, pattern: str, timeout: float = 10.0) -> re.Match[str]:
    """Wait until the console output matches ``pattern``; the match."""
    deadline = time.monotonic() + timeout
    while (found := re.search(pattern, out.getvalue())) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {pattern!r} in the console output:\n{out.getvalue()}")
        await asyncio.sleep(0.05)
    return found


async def simulator_pid_other_than(root: Path, old: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [p.pid for p in processes_under(root) if p.pid != old]
        if pids:
            return pids[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no new simulator process after killing {old}")


async def test_health_kill_heal_and_quit(tmp_path: Path) -> None:
    typist, out, stop = Typist(), io.StringIO(), asyncio.Event()
    run = asyncio.create_task(run_local(state_dir=tmp_path, interactive=True, stdin=typist,
                                        stdout=out, stop=stop))
    try:
        await shows(out, r"» ready: type `help`", timeout=20)
        assert 'guild "Remi HQ"' in out.getvalue()

        typist.type("/remi-health")
        await shows(out, r"answers your /remi-health\)")
        health = out.getvalue().split("answers your /remi-health")[1]
        assert "remi: healthy" in health
        assert "Gateway: connected" in health

        typist.type("kill")
        old = int((await shows(out, r"» sent SIGKILL to the Remi simulator \(pid (\d+)\)"))[1])
        new = await simulator_pid_other_than(tmp_path, old)
        await shows(out, rf"restarted \(crash, by watchdog\).* → {new}", timeout=5)
        typist.type("status")
        await shows(out, rf"» Remi simulator: pid {new}")

        typist.type("quit")
        await asyncio.wait_for(run, 20)
    finally:
        stop.set()
        await asyncio.gather(run, return_exceptions=True)
    assert "» stopped the Remi simulator" in out.getvalue()
    assert processes_under(tmp_path) == []
    assert "Traceback" not in out.getvalue()


async def test_no_console_prints_until_stopped(tmp_path: Path) -> None:
    out, stop = io.StringIO(), asyncio.Event()
    run = asyncio.create_task(run_local(state_dir=tmp_path, interactive=False, stdin=None,
                                        stdout=out, stop=stop))
    try:
        await shows(out, r"started \(start, by watchdog\)", timeout=20)
        assert "--no-console" in out.getvalue()
        assert processes_under(tmp_path) != []
    finally:
        stop.set()
        await asyncio.wait_for(run, 20)
    assert processes_under(tmp_path) == []


#: what a raw log record looks like (discord.py's, or the logging module's default layout)
RAW_LOG_LINE = re.compile(r"^\s*(\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \[|"
                          r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR))",
                          re.MULTILINE)


@pytest.mark.timeout(150)
async def test_a_hang_reads_as_one_short_story_in_the_console(tmp_path: Path) -> None:
    """Blocked loop → alert with the stack → restart and scan replies → resolved, in the
    console: the stack printed once, no raw log line."""
    typist, out, stop = Typist(), io.StringIO(), asyncio.Event()
    run = asyncio.create_task(run_local(state_dir=tmp_path, interactive=True, stdin=typist,
                                        stdout=out, stop=stop))
    try:
        await shows(out, r"» ready: type `help`", timeout=20)
        await shows(out, r"scan test passed", timeout=20)
        start = len(out.getvalue())
        typist.type("hang")
        await shows(out, r"restarted \(hang, by watchdog\)", timeout=60)
        await shows(out, r"✅ remi: .*resolved", timeout=60)
        typist.type("quit")
        await asyncio.wait_for(run, 20)
    finally:
        stop.set()
        await asyncio.gather(run, return_exceptions=True)
    story = out.getvalue()[start:]
    # the stuck stack, shown once (Remi's frames first), naming the call that blocks
    assert story.count("Remi's frames (innermost first)") == 1, story
    assert "hang — event loop blocked" in story and "in _read_response" in story, story
    assert RAW_LOG_LINE.search(story) is None, story
    assert "(reply to #" in story
