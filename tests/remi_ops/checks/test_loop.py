"""A hang stays a hang: checks between discord.py's 10-s warnings, latency, a new process.

The log is a real file read by the watcher's own intake; the check times come from a fake
clock, so "a check 5 s after the warning" is exact.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bubabot_local.simkit import sim_settings

from remi_ops.checks.health import HealthAssessor, Observation
from remi_ops.clock import FakeClock
from remi_ops.config import TargetSettings
from remi_ops.domain import (
    AlertKind,
    Check,
    HealthReport,
    ProcessIdentity,
    ProcessSnapshot,
    Status,
)
from remi_ops.logs.holdback import HOLD_S
from remi_ops.watch.conditions import conditions_of
from remi_ops.watch.intake import LogIntake

WARNING = "[{at}] [WARNING ] discord.gateway: Shard ID None heartbeat blocked for more than {s} " \
          "seconds.\nLoop thread traceback (most recent call last):\n" \
          '  File "{app}/remi/soundcloud.py", line 42, in fetch_track_sync\n' \
          "    data = sock.recv(65536)\n"
BEHIND = "[{at}] [WARNING ] discord.gateway: Can't keep up, shard ID None websocket is {s}s " \
         "behind.\n"
RESUMED = "[{at}] [INFO    ] discord.gateway: Shard ID None has successfully RESUMED session x.\n"


class Rig:
    """One target's intake on a real ``bot_error.log``, an assessor and a fake clock."""

    def __init__(self, tmp_path: Path, threshold: float = 60.0) -> None:
        settings = sim_settings(tmp_path, target={"health": {"hang_threshold_s": threshold}})
        self.target: TargetSettings = settings.targets[0]
        self.target.stderr_log.write_text("", encoding="utf-8")
        self.clock = FakeClock()
        self.read_at = 0.0  # the intake's own clock: only the hold-back of a record reads it
        self.intake = LogIntake(self.target, {}, lambda: self.read_at)
        self.assessor = HealthAssessor(self.target.health, workdir=self.target.workdir)
        self.pid = os.getpid()

    def log(self, template: str, ago_s: float = 0.0, **values: object) -> None:
        at = (datetime.now(UTC) - timedelta(seconds=ago_s)).strftime("%Y-%m-%d %H:%M:%S")
        with self.target.stderr_log.open("a", encoding="utf-8") as fh:
            fh.write(template.format(at=at, app=self.target.workdir, **values))

    def check(self, after_s: float = 0.0, started_s_ago: float = 100.0) -> HealthReport:
        self.clock.advance(after_s)
        self.intake.read()
        self.read_at += HOLD_S + 1  # the writer is done: a record still held is complete
        self.intake.read()
        snap = ProcessSnapshot(ProcessIdentity(self.pid, time.time() - started_s_ago, ("remi",)),
                               "sleeping", 1.0, 100 * 2**20, (), 100.0)
        return self.assessor.assess(Observation(
            target="remi", at=self.clock.now(), supervisor_state="running",
            expected_alive=True, process=snap, records=self.intake.take()))


def loop_summary(report: HealthReport) -> str:
    found = [f.summary for f in report.findings if f.check is Check.EVENT_LOOP]
    return found[0] if found else ""


def test_a_check_between_two_heartbeat_warnings_keeps_the_hang(tmp_path: Path) -> None:
    """The issue's 41 s "healthy": a quiet check between two warnings is not a sign of life.
    The block grows with the time since it was seen, and crosses the hang threshold."""
    rig = Rig(tmp_path, threshold=60)
    rig.log(WARNING, s=10)
    assert loop_summary(rig.check()).startswith("event loop blocked for 10s")
    between = rig.check(after_s=5)
    assert between.status is Status.DEGRADED
    assert loop_summary(between).startswith("event loop blocked for 15s in fetch_track_sync")
    rig.log(WARNING, s=20)
    assert loop_summary(rig.check(after_s=5)).startswith("event loop blocked for 20s")
    hung = rig.check(after_s=45)  # two quiet checks' worth: 20 s + 45 s
    assert hung.status is Status.DOWN
    assert "blocked for 65s in fetch_track_sync (soundcloud.py:42)" in loop_summary(hung)
    assert [c.key.kind for c in conditions_of(hung, (), gave_up=None)] == [AlertKind.HANG]


def test_a_record_written_after_the_block_clears_it(tmp_path: Path) -> None:
    """The loop ran again (a gateway RESUMED needs the loop): the hang is over."""
    rig = Rig(tmp_path)
    rig.log(WARNING, s=10)
    rig.check()
    rig.log(RESUMED)
    assert rig.check(after_s=5).status is Status.HEALTHY
    assert rig.check(after_s=30).status is Status.HEALTHY


def test_cant_keep_up_is_latency_not_a_hang(tmp_path: Path) -> None:
    """"Can't keep up, … behind" is network latency: its own finding, degraded at most,
    and (the acknowledgement was handled on the loop) a sign the loop runs."""
    rig = Rig(tmp_path, threshold=20)
    rig.log(BEHIND, s=31.4)
    report = rig.check()
    assert report.status is Status.DEGRADED
    assert loop_summary(report) == ""
    latency = [f for f in report.findings if f.check is Check.LATENCY]
    assert "31.4s late" in latency[0].summary and "not a blocked loop" in latency[0].summary
    assert [c.key.kind for c in conditions_of(report, (), gave_up=None)] == [
        AlertKind.UNHEALTHY]
    rig.log(WARNING, s=10)
    rig.check()
    rig.log(BEHIND, s=12)
    assert loop_summary(rig.check(after_s=30)) == ""  # acknowledged: not 40 s blocked


def test_a_new_process_starts_clean(tmp_path: Path) -> None:
    """The old process's block is not carried to its successor (another pid)."""
    rig = Rig(tmp_path, threshold=20)
    rig.log(WARNING, s=10)
    rig.check()
    rig.pid += 1
    assert rig.check(after_s=30).status is Status.HEALTHY


def test_warnings_from_before_the_process_started_are_not_its_own(tmp_path: Path) -> None:
    """``remi-ops health`` re-reading the log from before a hang restart: the old process's
    "blocked for 60s" says nothing of the one started 30 s ago."""
    rig = Rig(tmp_path, threshold=60)
    rig.log(WARNING, ago_s=40, s=60)
    assert rig.check(started_s_ago=30).status is Status.HEALTHY
    rig.log(WARNING, s=10)
    assert loop_summary(rig.check(started_s_ago=30)).startswith("event loop blocked for 10s")
