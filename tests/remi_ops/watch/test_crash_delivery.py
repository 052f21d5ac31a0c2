"""kill -9 in the middle of delivery: the .bot_alert file still ends up with each
notification exactly once.

A real child process runs engine + outbox + FileSink. Its sink pauses after each append,
before the outbox can mark the row delivered; the test kills it with SIGKILL in that
window, then a second process resumes from the same SQLite file.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from remi_ops.alerts.engine import AlertEngine
from remi_ops.alerts.local_sinks import FileSink
from remi_ops.alerts.model import AlertKey, Notification
from remi_ops.alerts.outbox import Outbox
from remi_ops.clock import SystemClock
from remi_ops.config import AlertSettings
from remi_ops.domain import Severity
from remi_ops.store.database import Store

pytestmark = pytest.mark.integration

BATCH = 40
KILL_AFTER_LINES = 5
PAUSE_AFTER_WRITE_S = 0.3


class PausingFileSink(FileSink):
    """A FileSink that lingers after writing: the crash window, made wide."""

    async def deliver(self, n: Notification, previous_ref: str | None) -> str | None:
        ref = await super().deliver(n, previous_ref)
        await asyncio.sleep(PAUSE_AFTER_WRITE_S)
        return ref


async def child(mode: str, db: Path, alert_file: Path) -> None:
    clock = SystemClock()
    store = Store.open(db, clock)
    sink_cls = PausingFileSink if mode == "first" else FileSink
    outbox = Outbox(store, [sink_cls({}, default=alert_file)], clock)
    if mode == "first":
        engine = AlertEngine(AlertSettings())
        for i in range(BATCH):
            engine.event(clock.now(), AlertKey(f"t{i}", "restart"), Severity.INFO,
                         f"restart report {i}")
        sent = await outbox.commit(engine)
        assert len(sent) == BATCH
    while sum(outbox.backlog().values()):
        await outbox.pump()
    store.close()


def spawn(mode: str, db: Path, alert_file: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, mode, str(db), str(alert_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def delivered_rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(
            "SELECT count(*) FROM outbox WHERE state = 'delivered'").fetchone()[0])


def test_kill_9_mid_delivery_then_resume_writes_each_notification_exactly_once(
        tmp_path: Path) -> None:
    db, alert_file = tmp_path / "state.db", tmp_path / ".bot_alert"
    first = spawn("first", db, alert_file)
    deadline = time.monotonic() + 30
    while len(lines_of(alert_file)) < KILL_AFTER_LINES:
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the child never wrote"
        time.sleep(0.005)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate()
    assert first.returncode == -signal.SIGKILL

    written = len(lines_of(alert_file))
    assert written < BATCH
    assert delivered_rows(db) < written, "the kill landed between append and mark-delivered"

    second = spawn("resume", db, alert_file)
    _out, err = second.communicate(timeout=30)
    assert second.returncode == 0, err.decode()

    ids = [json.loads(line)["id"] for line in lines_of(alert_file)]
    assert len(ids) == BATCH, "none missing"
    assert len(set(ids)) == BATCH, "none twice"
    assert delivered_rows(db) == BATCH
    messages = sorted(json.loads(line)["message"] for line in lines_of(alert_file))
    assert messages == sorted(f"t{i}: restart report {i}" for i in range(BATCH))


if __name__ == "__main__":
    asyncio.run(child(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])))
