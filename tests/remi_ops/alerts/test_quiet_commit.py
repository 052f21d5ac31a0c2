"""An idle alert hub commits nothing: its commits on a real SQLite file leave the ``-wal``
where it was (so no target's change token looks again), and a change is still committed
and seen by another connection."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from remi_ops.alerts.hub import AlertHub
from remi_ops.alerts.local_sinks import ConsoleSink
from remi_ops.alerts.outbox import Outbox
from remi_ops.clock import SystemClock
from remi_ops.config import AlertSettings
from remi_ops.domain import Event, EventKind, Severity
from remi_ops.store.change_token import OutsideVersion, wal_identity
from remi_ops.store.database import Store


async def test_an_idle_hub_commits_nothing_and_a_change_is_committed_and_seen(
        tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    clock = SystemClock()
    store = Store.open(db, clock)
    settings = AlertSettings(group_wait_s=0)
    outbox = Outbox(store, [ConsoleSink(io.StringIO())], clock, settings=settings)
    hub = AlertHub.load(settings, outbox, store, clock)
    other = sqlite3.connect(db)  # another process's view: a verb run beside the watcher
    try:
        await hub.commit()  # the first commit writes the engine's metadata
        token = OutsideVersion(
            db, lambda: int(other.execute("PRAGMA data_version").fetchone()[0]), trust_s=0)
        wal, seen = wal_identity(db), token.current()
        for _ in range(5):  # five quiet checks, each followed by a commit
            hub.observe(clock.now(), "remi", [])
            assert await hub.commit() == []
        assert wal_identity(db) == wal  # not a frame written
        assert token.current() == seen

        hub.event(Event("remi", EventKind.RESTART, clock.now(), Severity.WARNING,
                        "restarted after a crash"))
        assert len(await hub.commit()) == 1
        assert other.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 1
        assert wal_identity(db) != wal
        assert token.current() != seen  # the change token sees it
    finally:
        other.close()
        outbox.close()
        store.close()
