"""The intake on real files: a traceback written in pieces seconds apart is one record, a
held record's bytes are read again by the next watcher, and every configured log is read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from remi_ops.clock import FakeClock
from remi_ops.config import TargetSettings
from remi_ops.domain import LogKind, LogRecord
from remi_ops.logs.error_groups import ErrorAggregator
from remi_ops.logs.holdback import HOLD_S
from remi_ops.logs.redact import redact_patterns
from remi_ops.watch.intake import LogIntake

SEED = Path(__file__).parents[2] / "data" / "logs" / "incident_plain.log"
#: the seed's "Ignoring exception in command 'scan'" record: header, traceback, chain
SCAN_ERROR = "".join(SEED.read_text(encoding="utf-8").splitlines(keepends=True)[4:28])
NEXT = "[2026-01-24 03:02:10] [INFO    ] remi.bot: next record\n"


class Kept:
    """What the intake hands to the store, in order."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []
        self.positions: list[Mapping[str, Mapping[str, Any]]] = []

    def __call__(self, records: Sequence[LogRecord],
                 positions: Mapping[str, Mapping[str, Any]]) -> None:
        self.records.extend(records)
        self.positions.append(positions)


def target(tmp_path: Path, **extra: Any) -> TargetSettings:
    return TargetSettings.parse(
        {"name": "remi", "workdir": str(tmp_path), "command": ["python", "bot.py"], **extra})


def intake(tmp_path: Path, clock: FakeClock, kept: Kept,
           saved: Mapping[str, Mapping[str, Any] | None] | None = None,
           **extra: Any) -> LogIntake:
    return LogIntake(target(tmp_path, **extra), saved or {}, lambda: clock.now().timestamp(),
                     keep=kept)


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)


def pieces(text: str, cuts: Sequence[int]) -> list[str]:
    lines = text.splitlines(keepends=True)
    bounds = [0, *cuts, len(lines)]
    return ["".join(lines[a:b]) for a, b in pairwise(bounds)]


def test_a_traceback_written_in_pieces_seconds_apart_is_one_nameerror_group(
        tmp_path: Path) -> None:
    """The seed's traceback written with 1-5 s pauses (the 2-s probe reads in between,
    finding nothing new) is one record and one group titled NameError."""
    clock, kept = FakeClock(), Kept()
    log = tmp_path / "bot_error.log"
    log.touch()
    reader = intake(tmp_path, clock, kept)
    reader.read()  # attached before the error
    for piece, pause in zip(pieces(SCAN_ERROR, [1, 2, 6, 10, 15]), [5, 1, 3, 4, 2, 1],
                            strict=True):
        append(log, piece)
        reader.read()
        clock.advance(pause / 2)
        reader.read()  # a probe during the pause: nothing new, still held
        clock.advance(pause / 2)
    reader.read()
    errors = [r for r in kept.records if r.kind is not LogKind.INFO]
    assert len(errors) == 1
    groups = ErrorAggregator("remi", redact_patterns).fold(errors, clock.now()).groups
    assert len(groups) == 1 and groups[0].title.startswith("NameError")


def test_an_unfinished_traceback_is_given_up_after_the_hold(tmp_path: Path) -> None:
    """A writer that never finishes its traceback does not hide it for ever."""
    clock, kept = FakeClock(), Kept()
    log = tmp_path / "bot_error.log"
    log.touch()
    reader = intake(tmp_path, clock, kept)
    reader.read()
    append(log, pieces(SCAN_ERROR, [6])[0])
    reader.read()
    clock.advance(HOLD_S - 1)
    assert reader.read() == []
    clock.advance(1)
    assert len(reader.read()) == 1


def test_a_held_record_is_read_again_by_the_next_watcher(tmp_path: Path) -> None:
    """The saved position stays before a held record: a watcher that starts from it reads
    the whole record once, and nothing before it again."""
    clock, kept = FakeClock(), Kept()
    log = tmp_path / "bot_error.log"
    log.touch()
    first = intake(tmp_path, clock, kept)
    first.read()
    append(log, SCAN_ERROR + pieces(SCAN_ERROR, [6])[0])  # one whole, one half-written
    first.read()
    assert len(kept.records) == 1
    saved = kept.positions[-1]
    append(log, pieces(SCAN_ERROR, [6])[1])  # the rest, written after the first died
    later = Kept()
    second = intake(tmp_path, clock, later, saved=saved)
    second.read()
    assert len(later.records) == 1 and later.records[0].exc_type
    assert later.records[0].message.startswith("Ignoring exception in command 'scan'")


def test_a_header_alone_at_error_waits_for_its_traceback_but_not_for_the_next_record(
        tmp_path: Path) -> None:
    clock, kept = FakeClock(), Kept()
    log = tmp_path / "bot_error.log"
    log.touch()
    reader = intake(tmp_path, clock, kept)
    reader.read()
    append(log, "[2026-01-24 03:01:10] [ERROR   ] remi.bot: scoring failed\n")
    assert reader.read() == []
    clock.advance(2)
    assert reader.read() == []  # the next probe: still no traceback, still waiting
    append(log, NEXT)
    assert [r.message for r in reader.read()] == ["scoring failed"]


def test_every_configured_log_is_read(tmp_path: Path) -> None:
    """``logs`` adds Remi's own log files (discord.py's ``discord.log``) to its stdout/stderr."""
    clock, kept = FakeClock(), Kept()
    own = tmp_path / "discord.log"
    own.touch()
    reader = intake(tmp_path, clock, kept, logs=["discord.log", "bot_error.log"])
    assert reader.streams == ("stderr", "stdout", "log:discord.log")
    reader.read()
    append(own, SCAN_ERROR)
    assert [r.source for r in reader.read()] == ["log:discord.log"]
    assert "log:discord.log" in kept.positions[-1]


def test_records_the_store_could_not_take_wait_for_the_next_read(tmp_path: Path) -> None:
    """A failed save (a full disk) loses nothing: the records go with the next read."""
    clock, kept = FakeClock(), Kept()
    log = tmp_path / "bot_error.log"
    log.touch()
    failing = [True]

    def keep(records: Sequence[LogRecord], positions: Mapping[str, Mapping[str, Any]]) -> None:
        if failing.pop() if failing else False:
            raise OSError("disk full")
        kept(records, positions)

    reader = LogIntake(target(tmp_path), {}, lambda: clock.now().timestamp(), keep=keep)
    append(log, SCAN_ERROR)
    with pytest.raises(OSError, match="disk full"):
        reader.read()
    append(log, SCAN_ERROR)
    reader.read()
    assert len(kept.records) == 2


class CountingGate:
    """A gate that says "no event came" and counts how often it is asked."""

    def __init__(self) -> None:
        self.asked = 0

    def mark(self) -> object:
        return object()

    def quiet_since(self, mark: object) -> bool:
        del mark
        self.asked += 1
        return True


def test_a_quiet_read_asks_each_logs_gate_once(tmp_path: Path) -> None:
    """Each question is a ``select`` of the inotify descriptor: one per log per check."""
    clock, kept = FakeClock(), Kept()
    logs = intake(tmp_path, clock, kept)
    for stream in logs.streams:
        logs.tailers[stream].path.write_text(NEXT, encoding="utf-8")
    logs.read()
    gates = {stream: CountingGate() for stream in logs.streams}
    for stream, gate in gates.items():
        logs.tailers[stream].gate = gate
    assert logs.read() == []
    assert {s: g.asked for s, g in gates.items()} == dict.fromkeys(logs.streams, 1)
