"""Logs that never go blind: logrotate's ``create`` and ``copytruncate`` during a counted
burst written by a real process to its own stderr; every error is read exactly once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from remi_ops import host
from remi_ops.clock import FakeClock
from remi_ops.config import TargetSettings
from remi_ops.domain import LogRecord
from remi_ops.logs.holdback import HOLD_S
from remi_ops.testing import wait_until
from remi_ops.watch.intake import LogIntake

pytestmark = pytest.mark.usefixtures("reap_sims")

BURST = 2000
#: writes BURST numbered errors to its stderr, one a millisecond, each flushed
WRITER = """
import sys, time
for i in range(int(sys.argv[1])):
    sys.stderr.write(f"[2026-01-24 03:01:10] [ERROR   ] remi.bot: scan failed #{i}\\n")
    sys.stderr.flush()
    time.sleep(0.001)
"""


class Burst:
    """A writer process whose stderr is ``bot_error.log`` (opened for append, as the
    watcher's process manager does), and an intake that follows its fd 2."""

    def __init__(self, tmp_path: Path) -> None:
        self.log = tmp_path / "bot_error.log"
        self.log.touch()
        self.records: list[LogRecord] = []
        target = TargetSettings(name="remi", workdir=tmp_path, command=("python", "bot.py"))
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen([sys.executable, "-c", WRITER, str(BURST)],
                                         cwd=tmp_path, stderr=err)
        self.clock = clock = FakeClock()
        self.intake = LogIntake(target, {}, lambda: clock.now().timestamp(), keep=self.keep,
                                follow=lambda: host.std_targets(self.proc.pid))
        self.intake.read()

    def keep(self, records: Sequence[LogRecord],
             positions: Mapping[str, Mapping[str, Any]]) -> None:
        del positions
        self.records.extend(records)

    def written(self) -> int:
        return self.log.read_bytes().count(b"\n")

    def finish(self) -> list[int]:
        """Read until the writer is done and its last line is given up waiting for (a
        lone ERROR line may be followed by its traceback); the numbers read."""
        while self.proc.poll() is None:
            self.intake.read()
            time.sleep(0.02)
        self.intake.read()
        self.clock.advance(HOLD_S)
        self.intake.read()
        return sorted(int(r.message.rsplit("#", 1)[1]) for r in self.records)


@pytest.fixture
def burst(tmp_path: Path) -> Iterator[Burst]:
    running = Burst(tmp_path)
    yield running
    running.proc.kill()
    running.proc.wait()


def test_create_rotation_follows_the_file_remi_still_writes(burst: Burst) -> None:
    """``create``: bot_error.log becomes bot_error.log.1 and a new empty bot_error.log
    appears, but Remi's fd 2 still points at the renamed file until it restarts."""
    wait_until(lambda: burst.written() > BURST // 4, what="a quarter written")
    burst.intake.read()
    os.rename(burst.log, burst.log.with_name("bot_error.log.1"))
    burst.log.touch()
    assert burst.finish() == list(range(BURST))


def test_copytruncate_drains_the_unread_tail_from_the_copy(burst: Burst) -> None:
    """``copytruncate``: the file is copied to bot_error.log.1 and emptied in place; what
    was written after the last read went to the copy and is read from there."""
    wait_until(lambda: burst.written() > BURST // 4, what="a quarter written")
    burst.intake.read()
    wait_until(lambda: burst.written() > BURST // 2, what="half written")
    # logrotate's copy and truncate, with the writer held still in between: a line
    # written between the two is lost by copytruncate itself, whoever reads the log
    os.kill(burst.proc.pid, signal.SIGSTOP)
    try:
        shutil.copyfile(burst.log, burst.log.with_name("bot_error.log.1"))
        os.truncate(burst.log, 0)
    finally:
        os.kill(burst.proc.pid, signal.SIGCONT)
    assert burst.finish() == list(range(BURST))
