"""A watch's policy paths in milliseconds: ``FakeProcessManager`` + ``FakeClock``.

The real seam has its own real-process tests (``tests/remi_ops/host``); here the process
is made up and every start, stop and dump is recorded in order, so each path reads as the
sequence a person would expect.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from remi_ops.config_file import parse_settings
from remi_ops.domain import (
    AlertKind,
    Check,
    CheckTrigger,
    EventKind,
    ProcessIdentity,
    Severity,
    Trigger,
)
from remi_ops.exceptions import SpawnError, WorkdirMissing
from remi_ops.store.database import Store
from remi_ops.supervision.supervisor import State
from remi_ops.testing import FakeClock, FakeProcessManager, RecordingNotifier
from remi_ops.watch.fallback import FALLBACK_KIND
from remi_ops.watch.target import TargetWatch

HANG_LINE = ("[{at}] [WARNING ] discord.gateway: Shard ID None heartbeat "
             "blocked for more than {s} seconds.\n"
             "Loop thread traceback (most recent call last):\n"
             '  File "/srv/remi/packages/core/soundcloud_client.py", line 42, in fetch_track\n'
             "    data = sock.recv(65536)\n")
CRASH = ("[{at}] [ERROR   ] remi.scan: scoring failed\n"
         "Traceback (most recent call last):\n"
         '  File "/srv/remi/packages/core/analyzers/scoring_async.py", line 15, in score\n'
         "    return await asyncio.gather(*tasks)\n"
         "NameError: name 'asyncio' is not defined\n")


@dataclass
class Rig:
    watch: TargetWatch
    fake: FakeProcessManager
    clock: FakeClock
    notes: RecordingNotifier
    store: Store
    workdir: Path

    def log(self, text: str) -> None:
        with (self.workdir / "bot_error.log").open("a", encoding="utf-8") as fh:
            fh.write(text)

    def crash(self, times: int = 1) -> None:
        """The incident's NameError, written now by the current process."""
        self.log(CRASH.format(at=self.stamp()) * times)

    def stamp(self) -> str:
        """Now, as the log stamps it (a hang line is the current process's own)."""
        return self.clock.now().strftime("%Y-%m-%d %H:%M:%S")

    def kinds(self) -> list[EventKind]:
        return [e.kind for e in self.notes.events]

    def restarts(self) -> list[Any]:
        return [e.data["restart"] for e in self.notes.events if e.kind is EventKind.RESTART]


def build(tmp_path: Path, **target: Any) -> Iterator[Rig]:
    workdir = tmp_path / "remi"
    (workdir / "packages").mkdir(parents=True)
    (workdir / "packages" / "scoring.py").write_text("import asyncio\n", encoding="utf-8")
    raw_target: dict[str, Any] = {
        "name": "remi", "workdir": str(workdir), "command": ["remi", "main.py"],
        "watch_paths": ["packages"],
        "restart": {"jitter": 0, "start_seconds": 1, "stable_after_s": 600,
                    "budget_restarts": 3, "budget_window_s": 900, "gave_up_retry_s": 1800},
        "health": {"hang_threshold_s": 20},
        "scan_test": {"command": ["scan", "--url", "https://soundcloud.com/a/b"],
                      "expect_pattern": "scan ok"},
    }
    for key, value in target.items():
        raw_target[key] = {**raw_target.get(key, {}), **value} if isinstance(value, dict) \
            else value
    settings = parse_settings({"watchdog": {"state_dir": str(tmp_path / "state")},
                               "targets": [raw_target]}, base_dir=tmp_path)
    clock = FakeClock(start=datetime.now(UTC))
    store = Store.open(tmp_path / "store.sqlite3", clock)
    fake = FakeProcessManager(settings.targets[0], clock)
    notes = RecordingNotifier()
    watch = TargetWatch(settings, settings.targets[0], store=store, clock=clock,
                        notifier=notes, manager=fake, environ={})
    try:
        yield Rig(watch, fake, clock, notes, store, workdir)
    finally:
        store.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from build(tmp_path)


def state(rig: Rig) -> State:
    return rig.watch.supervisor.state


def running(rig: Rig) -> ProcessIdentity:
    """Remi already runs (started by hand); the watch adopts it."""
    ident = rig.fake.spawn_outside()
    rig.watch.attach()
    assert state(rig) is State.RUNNING
    return ident


def test_a_probe_stores_what_it_reads_with_the_position_it_read_to(rig: Rig) -> None:
    """Occurrences and the log position are stored as they are read, together; a new
    group makes the probe check at once, and the check after it does not count it again."""
    running(rig)
    rig.crash()
    assert rig.watch.probe()  # a new group: checked now, not at the next scheduled check
    assert [g.count for g in rig.store.error_groups("remi")] == [1]
    assert rig.store.load_position("remi", "stderr") == rig.watch.intake.positions()["stderr"]
    report = rig.watch.last_report
    assert report is not None
    assert [f.check for f in report.findings if f.check is Check.NEW_ERROR] == [Check.NEW_ERROR]
    rig.crash()
    rig.watch.check()
    rig.watch.check()  # a repeat: counted once, and not new any more
    assert [g.count for g in rig.store.error_groups("remi")] == [2]
    report = rig.watch.last_report
    assert report is not None
    assert not any(f.check is Check.NEW_ERROR for f in report.findings)


def test_a_burst_of_a_known_error_makes_the_probe_check(rig: Rig) -> None:
    """Not new, but as many as make a burst: the probe checks now, once per burst."""
    running(rig)
    rig.crash()
    rig.watch.probe()  # the group is known from here on
    assert rig.watch.probe() is False
    rig.crash(10)  # health.error_burst
    assert rig.watch.probe()
    report = rig.watch.last_report
    assert report is not None and any(f.check is Check.ERROR_BURST for f in report.findings)
    rig.crash(10)
    assert rig.watch.probe() is False  # the burst is known: the next check counts it


def test_a_hang_is_evidenced_before_the_restart(rig: Rig) -> None:
    """Stuck stack, dump request and py-spy come first; then the tree stops; then a start."""
    old = running(rig)
    rig.fake.py_spy_output = "Thread 1 (idle): fetch_track (soundcloud_client.py:42)"
    rig.log(HANG_LINE.format(s=30, at=rig.stamp()))
    report = rig.watch.check()

    assert any(f.check is Check.EVENT_LOOP for f in report.findings)
    assert rig.fake.names() == ["dump", "py_spy", "stop", "start"]
    assert rig.fake.calls[:3] == [("dump", old.pid), ("py_spy", old.pid), ("stop", old.pid)]
    [restart] = rig.restarts()
    assert restart.trigger is Trigger.HANG and restart.ok and restart.old_pid == old.pid
    assert "fetch_track" in restart.evidence and "py-spy" in restart.evidence
    assert AlertKind.HANG in rig.notes.firing()


def test_the_old_process_hang_lines_do_not_restart_the_new_one(rig: Rig) -> None:
    """Warnings the dying process wrote while being stopped are not about its successor."""
    running(rig)
    rig.fake.on_stop = lambda ident: rig.log(HANG_LINE.format(s=40, at=rig.stamp()))
    rig.log(HANG_LINE.format(s=30, at=rig.stamp()))
    rig.watch.check()
    rig.clock.advance(2)
    report = rig.watch.check()

    assert rig.fake.names().count("start") == 1
    assert not any(f.check is Check.EVENT_LOOP for f in report.findings)
    assert len(rig.restarts()) == 1


def test_a_fix_restarts_remi_then_runs_the_scan_test(rig: Rig) -> None:
    """Watched code changes → post-fix restart → scan test once it is up → both reported."""
    running(rig)
    (rig.workdir / "packages" / "scoring.py").write_text("import asyncio  # fixed\n",
                                                         encoding="utf-8")
    rig.watch.check()
    [restart] = rig.restarts()
    assert restart.trigger is Trigger.POST_FIX and "code changed" in restart.reason
    assert rig.kinds().index(EventKind.CODE_CHANGED) < rig.kinds().index(EventKind.RESTART)
    assert not rig.watch.scan_due()

    rig.clock.advance(2)
    assert rig.watch.scan_due()
    result = rig.watch.scan_test(CheckTrigger.AFTER_RESTART)
    assert result.ok
    assert rig.fake.names()[-2:] == ["start", "run"]
    assert rig.kinds()[-1] is EventKind.SCAN_TEST
    assert not rig.watch.scan_due()


def test_a_crash_loop_backs_off_then_gives_up_then_retries_slowly(rig: Rig) -> None:
    """First crash: at once; then 1 s, 2 s; the budget spent → gave up, paged, slow retry."""
    running(rig)
    delays = []
    for _ in range(3):
        rig.watch.handle_exit(rig.fake.crash())
        due = rig.watch.supervisor.next_attempt_mono
        delays.append(0.0 if due is None else due - rig.clock.monotonic())
        rig.clock.advance(delays[-1])
        rig.watch.tick()
    assert delays == [0.0, 1.0, 2.0]  # the first crash ever is restarted at once
    assert rig.fake.names().count("start") == 3

    rig.clock.advance(0.5)
    rig.watch.handle_exit(rig.fake.crash())
    assert state(rig) is State.GAVE_UP
    [escalation] = [e for e in rig.notes.events if e.kind is EventKind.ESCALATION]
    assert escalation.severity is Severity.PAGE
    assert AlertKind.GAVE_UP in rig.notes.firing()

    rig.clock.advance(600)
    rig.watch.tick()
    assert rig.fake.names().count("start") == 3  # no storm: nothing before the slow retry
    rig.clock.advance(1200)
    rig.watch.tick()
    assert rig.fake.names().count("start") == 4
    assert rig.restarts()[-1].trigger is Trigger.POLICY_RETRY


def test_a_failed_start_is_reported_and_retried_with_backoff(rig: Rig) -> None:
    """The command cannot start: a PAGE restart report, then backoff, not a hot loop."""
    running(rig)
    rig.fake.start_error = SpawnError("remi", "No such file or directory")
    rig.watch.handle_exit(rig.fake.crash())
    [failed] = rig.restarts()
    assert not failed.ok and "No such file" in failed.detail
    assert state(rig) is State.BACKOFF
    assert rig.watch.seconds_until_due() == pytest.approx(1.0)
    rig.clock.advance(1)
    rig.watch.tick()
    assert rig.restarts()[-1].ok and state(rig) is State.STARTING


@dataclass
class BookkeepingFails(FakeProcessManager):
    """Starts Remi, then fails once outside the manager's contract (a full disk, say)."""

    failures: int = 1

    def restart(self, ident: ProcessIdentity | None, grace_s: float) -> ProcessIdentity:
        new = super().restart(ident, grace_s)
        if self.failures:
            self.failures -= 1
            raise OSError(28, "No space left on device")
        return new


def test_a_restart_that_fails_after_starting_is_told_once_and_keeps_remi(rig: Rig) -> None:
    """The act path never raises: the start half ran, so the new Remi is kept (not started
    twice), and the failure is one critical line in ``.bot_alert``, written without SQLite."""
    running(rig)
    broken = BookkeepingFails(rig.fake.target, rig.clock, running=rig.fake.running,
                              calls=rig.fake.calls)
    rig.watch.hands.manager = broken
    rig.watch.handle_exit(rig.fake.crash())
    [report] = rig.restarts()
    assert report.ok and broken.names().count("start") == 1
    assert [i.pid for i in broken.running] == [report.new_pid]
    lines = [json.loads(line) for line in rig.watch.target.alert_file.read_text().splitlines()]
    assert [(line["kind"], line["where"]) for line in lines] == [(FALLBACK_KIND, "restart")]
    assert "No space left on device" in lines[0]["message"]


def test_a_missing_workdir_holds_restarts_and_an_operator_start_is_answered(
        rig: Rig, tmp_path: Path) -> None:
    """One escalation, no retries however long it lasts; a person's start while it is
    still missing gets its own failed report (not a second page); back: it starts."""
    running(rig)
    missing = tmp_path / "moved-away"
    rig.fake.start_error = WorkdirMissing("remi", str(missing))
    rig.fake.sticky = True
    rig.watch.handle_exit(rig.fake.crash())
    assert rig.kinds().count(EventKind.ESCALATION) == 1
    assert EventKind.RESTART not in rig.kinds()  # the escalation is the one message
    for _ in range(5):
        rig.clock.advance(600)
        rig.watch.tick()
        rig.watch.check()
    assert rig.watch.seconds_until_due() is None and rig.fake.names().count("start") == 0
    assert state(rig) is State.BACKOFF and rig.watch.supervisor.backoff_level == 0
    rig.watch.start("ops")
    assert rig.kinds().count(EventKind.ESCALATION) == 1
    assert [r.ok for r in rig.restarts()] == [False]
    missing.mkdir()
    rig.fake.start_error = None
    rig.watch.check()
    assert rig.restarts()[-1].ok and state(rig) is State.STARTING
    assert rig.watch.supervisor.workdir_missing == ""


def test_an_operator_stop_holds_until_start(rig: Rig) -> None:
    """Stop: the tree goes, nothing restarts it (not a crash, not a check); start undoes it."""
    old = running(rig)
    rig.watch.stop("cli:jordan", "deploy")
    assert rig.fake.calls[-1] == ("stop", old.pid)
    rig.clock.advance(120)
    rig.watch.tick()
    rig.watch.check()
    assert rig.fake.names().count("start") == 0
    assert state(rig) is State.STOPPED

    rig.watch.start("cli:jordan")
    assert rig.fake.names().count("start") == 1
    assert state(rig) is State.STARTING
