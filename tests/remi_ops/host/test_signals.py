"""Signals with real processes: the SIGUSR1 dump request, our own stop signals."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from bubabot_local.simkit import DUMPABLE, SLEEPER, bot_target

from remi_ops import host
from remi_ops.domain import ProcessIdentity
from remi_ops.testing import wait_until as wait_for

pytestmark = pytest.mark.integration

# a watcher in miniature: on_stop_signals sets the event its loop waits for
STOPPABLE = """
import asyncio
from remi_ops import host

async def main():
    stopping = asyncio.Event()
    host.on_stop_signals(asyncio.get_running_loop(), stopping.set)
    print("ready", flush=True)
    await stopping.wait()
    print("stopped cleanly", flush=True)

asyncio.run(main())
"""


def test_dump_signal_goes_only_to_a_process_that_handles_it(
        tmp_path: Path, spawned: list[ProcessIdentity]) -> None:
    """SIGUSR1 would kill a process without a handler, so it is not sent there."""
    dumpable = host.spawn(bot_target(tmp_path / "remi", DUMPABLE))
    plain = host.spawn(bot_target(tmp_path / "plain", SLEEPER))
    spawned.extend([dumpable, plain])
    wait_for((tmp_path / "remi/ready").exists)
    assert host.send_dump_signal(dumpable)
    wait_for(lambda: "most recent call first" in (tmp_path / "remi/bot_error.log").read_text())
    assert host.is_alive(dumpable)
    assert not host.send_dump_signal(plain)
    assert host.is_alive(plain)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signals_call_back_instead_of_killing(tmp_path: Path, sig: signal.Signals) -> None:
    """SIGINT/SIGTERM end the watcher's loop through its callback: a clean exit 0."""
    script = tmp_path / "watcher.py"
    script.write_text(textwrap.dedent(STOPPABLE))
    with subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                          text=True) as watcher:
        try:
            assert watcher.stdout is not None
            assert watcher.stdout.readline() == "ready\n"
            watcher.send_signal(sig)
            assert watcher.wait(10) == 0
            assert watcher.stdout.read() == "stopped cleanly\n"
        finally:
            watcher.kill()
