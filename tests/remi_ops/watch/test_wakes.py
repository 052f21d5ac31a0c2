"""A check with nothing to do does not wake its target's loops (the exit waiter, the due
loop); whatever changes what they wait on — a restart, a death, a backoff — still does."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from remi_ops.config_file import parse_settings
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


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    workdir = tmp_path / "remi"
    workdir.mkdir()
    settings = parse_settings({
        "watchdog": {"state_dir": str(tmp_path / "state")},
        "targets": [{"name": "remi", "workdir": str(workdir), "command": ["remi", "main.py"],
                     "restart": {"jitter": 0, "start_seconds": 1, "stable_after_s": 600,
                                 "budget_restarts": 10, "budget_window_s": WINDOW_S},
                     "scan_test": {"after_restart": False}}]}, base_dir=tmp_path)
    clock = FakeClock(start=datetime.now(UTC))
    db = tmp_path / "store.sqlite3"
    store = Store.open(db, clock)
    fake = FakeProcessManager(settings.targets[0], clock)
    watch = TargetWatch(settings, settings.targets[0], store=store, clock=clock,
                        notifier=RecordingNotifier(), manager=fake, environ={})
    fake.spawn_outside()
    watch.attach()
    try:
        yield Rig(watch, fake, clock, store, db)
    finally:
        store.close()


def test_a_quiet_check_wakes_no_loop(rig: Rig) -> None:
    wakes: list[str] = []
    rig.watch.on_change = lambda: wakes.append("woken")
    rig.count()
    wakes.clear()
    for _ in range(5):
        rig.count()
    assert wakes == []


def test_a_restart_a_death_and_a_backoff_wake_them(rig: Rig) -> None:
    wakes: list[str] = []
    rig.watch.on_change = lambda: wakes.append("woken")
    rig.count()
    wakes.clear()
    rig.watch.restart("ana", "stuck")  # a new process to wait on, a recheck due
    assert wakes
    wakes.clear()
    rig.clock.advance(5)
    rig.watch.handle_exit(rig.fake.crash())  # gone: a backoff retry is due
    assert wakes
    wakes.clear()
    rig.clock.advance(120)
    rig.watch.tick()  # the retry: started again
    assert wakes
    assert rig.fake.names().count("start") == 2
