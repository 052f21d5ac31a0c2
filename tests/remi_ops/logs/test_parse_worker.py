"""Big reads parsed in the worker process: the very records and error groups an in-process
parse gives, on a real log file; a killed worker costs a warning, never a record; and
``close`` leaves no worker process behind."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil
import pytest
from bubabot_local.logkit import DATA

from remi_ops.clock import FakeClock
from remi_ops.config import TargetSettings
from remi_ops.domain import LogRecord
from remi_ops.logs.error_groups import ErrorAggregator
from remi_ops.logs.parse import LogParser
from remi_ops.logs.parse_worker import ParseWorker
from remi_ops.logs.redact import redact_patterns
from remi_ops.testing import wait_until
from remi_ops.watch.intake import LogIntake

SAMPLES = sorted(DATA.glob("*.log"))
#: every sample log, again and again: about 1.2 MB of real records (tracebacks, chains,
#: discord.py's gateway lines, ANSI colours)
BIG = b"".join(p.read_bytes() for p in SAMPLES) * 20


@pytest.fixture
def worker() -> Iterator[ParseWorker]:
    parsing = ParseWorker(big_read_bytes=64 * 1024)
    try:
        yield parsing
    finally:
        parsing.close()


class Kept:
    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    def __call__(self, records: Sequence[LogRecord],
                 positions: Mapping[str, Mapping[str, Any]]) -> None:
        self.records.extend(records)


def read_all(tmp_path: Path, log: Path, worker: ParseWorker | None) -> list[LogRecord]:
    """Everything ``log`` holds, read by a fresh intake as a watcher would read it."""
    target = TargetSettings.parse(
        {"name": "remi", "workdir": str(tmp_path), "command": ["python", "bot.py"],
         "stderr_log": str(log), "health": {"initial_read_bytes": 16 * 1024 * 1024}})
    clock, kept = FakeClock(), Kept()
    intake = LogIntake(target, {}, lambda: clock.now().timestamp(), keep=kept)
    intake.worker = worker
    intake.read()
    clock.advance(60)  # the last record is finished: no more lines came
    intake.read()
    return kept.records


def test_a_big_read_in_the_worker_gives_the_same_records_and_groups(
        tmp_path: Path, worker: ParseWorker) -> None:
    log = tmp_path / "bot_error.log"
    log.write_bytes(BIG)
    here = read_all(tmp_path, log, None)
    there = read_all(tmp_path, log, worker)
    assert worker.reads_in_worker >= 1
    assert there == here and len(here) > 500
    fold = ErrorAggregator("remi", redact_patterns)
    expected = fold.fold(here, FakeClock().now()).groups
    got = ErrorAggregator("remi", redact_patterns).fold(there, FakeClock().now()).groups
    assert got == expected and len(expected) > 3


def test_a_small_read_stays_in_this_process(worker: ParseWorker) -> None:
    small = (DATA / "incident_plain.log").read_bytes()
    assert len(small) < worker.big_read_bytes
    parser = LogParser(source="stderr", keep_info=False)
    assert worker.parse(parser, small)
    assert worker.reads_in_worker == 0


def test_a_killed_worker_costs_a_warning_not_a_record(
        worker: ParseWorker, caplog: pytest.LogCaptureFixture) -> None:
    expected_parser = LogParser(source="stderr", keep_info=False)
    expected = expected_parser.feed_bytes(BIG) + expected_parser.flush()
    parser = LogParser(source="stderr", keep_info=False)
    assert worker.parse(parser, BIG) == expected
    first = worker.pid()
    assert first is not None
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: not psutil.pid_exists(first) or psutil.Process(first).status()
               == psutil.STATUS_ZOMBIE, what="the worker killed")
    with caplog.at_level(logging.WARNING, logger="remi_ops.logs.parse_worker"):
        assert worker.parse(parser, BIG) == expected  # parsed here, nothing lost
    assert "log-parsing worker process failed" in caplog.text
    assert worker.reads_in_worker == 1
    assert worker.parse(parser, BIG) == expected  # and the next big read has a new worker
    assert worker.reads_in_worker == 2
    assert worker.pid() not in (None, first)


def test_close_ends_the_worker_process(worker: ParseWorker) -> None:
    worker.parse(LogParser(source="stderr", keep_info=False), BIG)
    pid = worker.pid()
    assert pid is not None and psutil.pid_exists(pid)
    worker.close()
    assert not psutil.pid_exists(pid)
    assert worker.pid() is None
    # after close a big read is still parsed (here), never dropped
    parser = LogParser(source="stderr", keep_info=False)
    assert worker.parse(parser, BIG) and worker.reads_in_worker == 1


def test_a_worker_with_no_big_read_for_a_while_ends_and_comes_back_when_needed() -> None:
    parsing = ParseWorker(big_read_bytes=64 * 1024, retire_after_s=0.5)
    try:
        parser = LogParser(source="stderr", keep_info=False)
        expected = parsing.parse(parser, BIG)
        pid = parsing.pid()
        assert pid is not None
        wait_until(lambda: not psutil.pid_exists(pid), timeout=15,
                   what="the idle worker ended")
        assert parsing.parse(parser, BIG) == expected
        assert parsing.reads_in_worker == 2
    finally:
        parsing.close()
