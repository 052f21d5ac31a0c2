"""The restart count a check reports (``restarts_recent``) is read from the store only
when something may have added a restart; these say it still counts every restart: one
made by an operator's verb (the path a spool request takes in the watcher), one after a
crash, one another process wrote, and none that left the budget window."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from remi_ops.config_file import parse_settings
from remi_ops.domain import RestartReport, Trigger
from remi_ops.store.database import Store
from remi_ops.testing import FakeClock, FakeProcessManager, RecordingNotifier
from remi_ops.watch.target import TargetWatch

WINDOW_S = 900


@dataclass
class Rig:
    watch: TargetWatch
    fake: FakeProcessManager
    clock: FakeClock
    store: Store
    db: Path

    def count(self) -> int:
        return self.watch.check().restarts_recent


def attached_watch(tmp_path: Path, **target: Any) -> Rig:
    """A watch of a running fake Remi (adopted), on a real store file; ``target`` adds to
    the target's table. The caller closes ``rig.store``."""
    workdir = tmp_path / "remi"
    workdir.mkdir()
    settings = parse_settings({
        "watchdog": {"state_dir": str(tmp_path / "state")},
        "targets": [{"name": "remi", "workdir": str(workdir), "command": ["remi", "main.py"],
                     "restart": {"jitter": 0, "start_seconds": 1, "stable_after_s": 600,
                                 "budget_restarts": 10, "budget_window_s": WINDOW_S},
                     "scan_test": {"after_restart": False}, **target}]}, base_dir=tmp_path)
    clock = FakeClock(start=datetime.now(UTC))
    db = tmp_path / "store.sqlite3"
    store = Store.open(db, clock)
    fake = FakeProcessManager(settings.targets[0], clock)
    watch = TargetWatch(settings, settings.targets[0], store=store, clock=clock,
                        notifier=RecordingNotifier(), manager=fake, environ={})
    fake.spawn_outside()
    watch.attach()
    return Rig(watch, fake, clock, store, db)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = attached_watch(tmp_path)
    try:
        yield made
    finally:
        made.store.close()


def test_a_verb_and_a_crash_are_counted_at_the_next_check(rig: Rig) -> None:
    assert rig.count() == 0
    assert rig.count() == 0  # nothing new: the count read before still holds
    rig.watch.restart("ana", "stuck")  # what a spool request runs in the watcher
    assert rig.count() == 1
    rig.clock.advance(5)
    rig.watch.handle_exit(rig.fake.crash())  # a crash soon after: restarted after a backoff
    rig.clock.advance(120)
    rig.watch.tick()
    assert rig.fake.names().count("start") == 2
    assert rig.count() == 2


def test_a_restart_another_process_wrote_is_counted(rig: Rig) -> None:
    """``remi-ops restart`` run with no watcher listening writes with its own connection."""
    assert rig.count() == 0
    other = Store.open(rig.db, rig.clock)
    try:
        other.record_restart(RestartReport(
            target="remi", reason="by hand", trigger=Trigger.OPERATOR, requested_by="ana",
            ok=True, at=rig.clock.now(), duration_s=0.1, new_pid=4321))
    finally:
        other.close()
    assert rig.count() == 1


def test_a_restart_leaves_the_count_when_it_leaves_the_window(rig: Rig) -> None:
    rig.watch.restart("ana", "stuck")
    assert rig.count() == 1
    rig.clock.advance(WINDOW_S / 2)
    assert rig.count() == 1
    rig.clock.advance(WINDOW_S / 2 + 1)
    assert rig.count() == 0  # no write since: the window moved on by itself
