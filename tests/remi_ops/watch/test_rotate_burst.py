"""The watcher rotates Remi's logs itself: a real process writes a counted burst of
tracebacks through its append handle while the intake reads and rotates; every record
is counted once in a real store's error groups, ``keep`` holds, ``max_bytes = 0`` never
rotates, and the writer's handle keeps working."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bubabot_local.rotationkit import RotatedBurst

from remi_ops.clock import FakeClock
from remi_ops.config import LogSettings, TargetSettings
from remi_ops.domain import LogKind, LogRecord
from remi_ops.logs.holdback import HOLD_S
from remi_ops.logs.rotate import numbered
from remi_ops.watch.intake import LogIntake

COUNT = 1500
PAUSE_S = 0.0005
MAX_BYTES = 8 * 1024
HEADER = b"[2026-01-24 03:01:10] [ERROR   ] remi.bot: scan failed #1\n"
FRAMES = b'Traceback (most recent call last):\n  File "bot.py", line 1, in scan\n    x()\n'


@pytest.fixture
def bursts(tmp_path: Path) -> Iterator[list[RotatedBurst]]:
    started: list[RotatedBurst] = []
    yield started
    for burst in started:
        burst.stop()


def test_every_record_is_counted_once_across_many_rotations(
        tmp_path: Path, bursts: list[RotatedBurst]) -> None:
    """Each record in a file at the end (live or copy) was counted exactly once, as a
    whole traceback, and the store's error groups hold the same count."""
    burst = RotatedBurst(tmp_path, count=COUNT, pause_s=PAUSE_S, max_bytes=MAX_BYTES, keep=100)
    bursts.append(burst)
    burst.run_burst()
    counted, on_disk = burst.counted(), burst.on_disk()
    assert len(burst.copies()) >= 10  # the burst really was rotated, many times
    assert [n for n, times in counted.items() if times > 1] == []  # none doubled
    assert sorted(on_disk - set(counted)) == []  # none lost by the reader
    assert set(counted) <= on_disk
    errors = sum(1 for r in burst.records if r.kind in (LogKind.CRASH, LogKind.ERROR))
    assert burst.grouped() == errors
    # copytruncate's own window (an append between the copy and the truncation) is
    # measured by bench/bench_rotate.py, not asserted (a paused watcher widens it)
    assert len(on_disk) >= COUNT * 0.9  # not vacuous: the burst is (nearly) all there


def test_keep_is_honoured_and_the_handle_keeps_working(
        tmp_path: Path, bursts: list[RotatedBurst]) -> None:
    burst = RotatedBurst(tmp_path, count=600, pause_s=PAUSE_S, max_bytes=4096, keep=3,
                         after=["[2026-01-24 03:05:00] [ERROR   ] remi.bot: after the burst"])
    bursts.append(burst)
    burst.run_burst()
    assert [p.name for p in burst.copies()] == [f"bot_error.log.{n}" for n in (1, 2, 3)]
    assert all(p.stat().st_size >= 4096 for p in burst.copies())
    burst.release()
    burst.settle()
    assert burst.records[-1].message == "after the burst"
    assert burst.log.read_bytes().endswith(b"after the burst\n")  # appended, no hole


def test_max_bytes_zero_never_rotates(tmp_path: Path, bursts: list[RotatedBurst]) -> None:
    burst = RotatedBurst(tmp_path, count=300, pause_s=0.0, max_bytes=0, keep=3)
    bursts.append(burst)
    burst.run_burst()
    assert burst.copies() == []
    assert sorted(burst.counted()) == list(range(300))


def _intake(tmp_path: Path, clock: FakeClock, kept: list[LogRecord], *,
            rotating: bool) -> LogIntake:
    target = TargetSettings(name="remi", workdir=tmp_path, command=("python", "bot.py"),
                            logs=LogSettings(max_bytes=64, keep=2))
    intake = LogIntake(target, {}, lambda: clock.now().timestamp(),
                       keep=lambda records, _positions: kept.extend(records))
    intake.rotating = rotating
    return intake


def test_a_traceback_cut_by_a_rotation_is_one_record(tmp_path: Path) -> None:
    """Header and frames before the rotation, the exception line after it (through the
    same handle): one record, whole, counted once."""
    clock, kept = FakeClock(), list[LogRecord]()
    log = tmp_path / "bot_error.log"
    with log.open("ab", buffering=0) as remi:
        intake = _intake(tmp_path, clock, kept, rotating=True)
        remi.write(HEADER + FRAMES)
        intake.read()  # held (unfinished), and the log rotated past 64 bytes
        assert numbered(log, 1).read_bytes() == HEADER + FRAMES
        remi.write(b"NameError: name 'asyncio' is not defined\n")
        intake.read()
        clock.advance(HOLD_S)
        intake.read()
    assert [(r.message, r.exc_type) for r in kept] == [("scan failed #1", "NameError")]


def test_a_bystander_never_rotates(tmp_path: Path) -> None:
    """``remi-ops health`` with no watcher running reads the logs but leaves them be."""
    clock, kept = FakeClock(), list[LogRecord]()
    log = tmp_path / "bot_error.log"
    log.write_bytes(HEADER * 10)
    _intake(tmp_path, clock, kept, rotating=False).read()
    assert not numbered(log, 1).exists()
    assert log.read_bytes() == HEADER * 10
