"""A counted burst of tracebacks written by a real process while the watcher rotates its log.

Shared by the rotation tests (``tests/remi_ops/watch/test_rotate_burst.py``) and
``bench/bench_rotate.py``: a writer process whose stderr is ``bot_error.log``, opened
for append as the watcher's process manager opens it; each record is numbered and
written in two pieces (header and frames, then the exception line), so a rotation can
fall inside a record; and an intake that rotates, feeding a real store's error groups.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from remi_ops.clock import FakeClock
from remi_ops.config import LogSettings, TargetSettings
from remi_ops.domain import LogRecord
from remi_ops.logs.holdback import HOLD_S
from remi_ops.logs.redact import Redactor
from remi_ops.logs.rotate import numbered
from remi_ops.store.database import Store
from remi_ops.watch.intake import LogIntake
from remi_ops.watch.occurrences import Occurrences

#: writes argv[1] numbered tracebacks to stderr, each in two flushed pieces, pausing
#: argv[2] seconds between records, marks the burst written, then waits for stdin to
#: close and writes its other arguments as lines through the same (rotated) handle
WRITER = """
import pathlib, sys, time
count, pause = int(sys.argv[1]), float(sys.argv[2])
for i in range(count):
    sys.stderr.write(f"[2026-01-24 03:01:10] [ERROR   ] remi.bot: scan failed #{i}\\n"
                     'Traceback (most recent call last):\\n  File "/srv/remi/bot.py", '
                     'line 42, in scan\\n    score(track)\\n')
    sys.stderr.flush()
    sys.stderr.write(f"ValueError: bad track #{i}\\n")
    sys.stderr.flush()
    if pause:
        time.sleep(pause)
pathlib.Path("burst-written").touch()
sys.stdin.read()
for line in sys.argv[3:]:  # after the burst: lines through the same handle
    sys.stderr.write(line + "\\n")
    sys.stderr.flush()
"""
_HEADER = re.compile(rb"scan failed #(\d+)\n")
_EXCEPTION = re.compile(rb"ValueError: bad track #(\d+)\n")


class RotatedBurst:
    """A writer process, and a rotating intake whose records go to a real store."""

    def __init__(self, workdir: Path, *, count: int, pause_s: float, max_bytes: int,
                 keep: int, after: Sequence[str] = ()) -> None:
        self.log = workdir / "bot_error.log"
        self.log.touch()
        self.target = TargetSettings(name="remi", workdir=workdir, command=("python", "bot.py"),
                                     logs=LogSettings(max_bytes=max_bytes, keep=keep))
        self.clock = FakeClock()
        self.store = Store.open(workdir / "store.sqlite3", self.clock)
        self.occurrences = Occurrences("remi", self.store, Redactor(), self.clock)
        self.records: list[LogRecord] = []
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", WRITER, str(count), str(pause_s), *after],
                cwd=workdir, stderr=err, stdin=subprocess.PIPE)
        self.written = workdir / "burst-written"
        self.intake = LogIntake(self.target, {}, lambda: self.clock.now().timestamp(),
                                keep=self.keep)
        self.intake.rotating = True
        self.intake.read()

    def keep(self, records: Sequence[LogRecord],
             positions: Mapping[str, Mapping[str, Any]]) -> None:
        self.records.extend(records)
        self.occurrences.keep(records, positions)

    def run_burst(self, timeout_s: float = 120.0) -> None:
        """Read (and rotate) until the writer says the burst is written, then read on
        until the last record is given up waiting for."""
        deadline = time.monotonic() + timeout_s
        while not self.written.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise TimeoutError(f"the writer did not finish its burst ({self.proc.poll()})")
            self.intake.read()
        self.settle()

    def settle(self) -> None:
        """Read what is left; a last record still held is finished by silence."""
        self.intake.read()
        self.clock.advance(HOLD_S)
        self.intake.read()

    def release(self) -> None:
        """Let the writer write its ``after`` lines through its old handle."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.store.close()

    def counted(self) -> Counter[int]:
        """How many times each record number was read as a complete traceback."""
        return Counter(int(r.message.rsplit("#", 1)[1]) for r in self.records
                       if r.message.startswith("scan failed #") and r.traceback
                       and r.traceback.endswith(f"bad track #{r.message.rsplit('#', 1)[1]}"))

    def grouped(self) -> int:
        """Occurrences in the store's error groups."""
        return sum(g.count for g in self.store.error_groups("remi", limit=1000))

    def on_disk(self) -> set[int]:
        """Record numbers whose two pieces are in the live log or a kept copy (a piece
        appended in copytruncate's window is in neither)."""
        heads: set[int] = set()
        ends: set[int] = set()
        for path in (self.log, *self.copies()):
            data = path.read_bytes()
            heads.update(int(m) for m in _HEADER.findall(data))
            ends.update(int(m) for m in _EXCEPTION.findall(data))
        return heads & ends

    def copies(self) -> list[Path]:
        """``bot_error.log.1`` … as far as they go."""
        found, n = [], 1
        while numbered(self.log, n).exists():
            found.append(numbered(self.log, n))
            n += 1
        return found

