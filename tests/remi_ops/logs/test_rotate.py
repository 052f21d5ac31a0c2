"""Copytruncate by the watcher, on real files written through a real append handle: the
copies kept, their mode, a failure that loses nothing, and what arrives between a read
and the copy read exactly once."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from remi_ops.config import LogSettings
from remi_ops.logs.rotate import LogRotation, copytruncate, numbered
from remi_ops.logs.tail import Tailer


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "bot.log"
    path.touch()
    return path


@pytest.fixture
def writer(log: Path) -> Iterator[BinaryIO]:
    """Remi's handle: opened for append, kept open across every rotation."""
    with log.open("ab", buffering=0) as handle:
        yield handle


def test_copies_shift_and_only_keep_remain(log: Path, writer: BinaryIO) -> None:
    """Each rotation moves .1 → .2 …; past ``keep`` they are dropped; .1 is the newest."""
    for n in range(4):
        writer.write(f"round {n}\n".encode())
        copytruncate(log, keep=2)
    assert sorted(p.name for p in log.parent.iterdir()) == ["bot.log", "bot.log.1", "bot.log.2"]
    assert numbered(log, 1).read_bytes() == b"round 3\n"
    assert numbered(log, 2).read_bytes() == b"round 2\n"
    assert log.read_bytes() == b""


def test_copies_left_by_a_larger_keep_are_removed(log: Path, writer: BinaryIO) -> None:
    for n in range(1, 6):
        numbered(log, n).write_text(f"old {n}\n")
    writer.write(b"live\n")
    copytruncate(log, keep=2)
    assert sorted(p.name for p in log.parent.iterdir()) == ["bot.log", "bot.log.1", "bot.log.2"]
    assert numbered(log, 2).read_text() == "old 1\n"


def test_the_copy_keeps_the_mode_of_the_log(log: Path, writer: BinaryIO) -> None:
    log.chmod(0o644)
    writer.write(b"x\n")
    copytruncate(log, keep=1)
    assert numbered(log, 1).stat().st_mode & 0o777 == 0o644


def test_the_handle_writes_at_the_start_of_the_emptied_file(log: Path,
                                                             writer: BinaryIO) -> None:
    writer.write(b"before\n")
    copied = copytruncate(log, keep=1)
    writer.write(b"after\n")
    assert copied.size == len(b"before\n")
    assert log.read_bytes() == b"after\n"  # no hole of NULs: the handle appends


def test_what_came_after_the_read_is_read_from_the_copy_once(log: Path,
                                                             writer: BinaryIO) -> None:
    """Lines (and half a line) appended between the drain and the copy, then more through
    the same handle: every byte read once, the half line made whole."""
    tailer = Tailer(log)
    writer.write(b"one\ntw")
    first = tailer.read_new()
    writer.write(b"o\nthree\nfo")  # between the read and the copy
    rest = LogRotation("remi", LogSettings(max_bytes=1, keep=1)).rotate_after_read(tailer)
    assert rest is not None
    writer.write(b"ur\nfive\n")
    later = tailer.read_new()
    assert first.lines + rest.lines + later.lines == ["one", "two", "three", "four", "five"]
    assert numbered(log, 1).read_bytes() == b"one\ntwo\nthree\nfo"
    assert tailer.read_new().lines == []


def test_a_restarted_tailer_reads_the_emptied_file_from_its_start(log: Path,
                                                                  writer: BinaryIO) -> None:
    tailer = Tailer(log)
    writer.write(b"one\n")
    tailer.read_new()
    rest = LogRotation("remi", LogSettings(max_bytes=1, keep=1)).rotate_after_read(tailer)
    assert rest is not None and rest.position.offset == 0
    writer.write(b"two\n")
    assert Tailer(log, rest.position).read_new().lines == ["two"]


def test_a_replaced_log_is_not_rotated(log: Path, writer: BinaryIO) -> None:
    """Renamed away since the read (logrotate's ``create``): not ours to copy."""
    tailer = Tailer(log)
    writer.write(b"one\n")
    tailer.read_new()
    os.rename(log, log.with_name("elsewhere.log"))
    log.write_bytes(b"new file\n")
    assert LogRotation("remi", LogSettings(max_bytes=1, keep=1)).rotate_after_read(tailer) is None
    assert not numbered(log, 1).exists()
    assert log.read_bytes() == b"new file\n"


def test_a_failed_rotation_loses_nothing_and_warns_once_per_streak(
        log: Path, writer: BinaryIO, caplog: pytest.LogCaptureFixture) -> None:
    """``bot.log.1`` cannot be replaced (a directory there): the log stays as it was, one
    warning for the streak, and a line when rotating works again."""
    blocker = numbered(log, 1)
    blocker.mkdir()
    (blocker / "inside").touch()
    rotation = LogRotation("remi", LogSettings(max_bytes=1, keep=1))
    tailer = Tailer(log)
    caplog.set_level(logging.INFO, "remi_ops.logs.rotate")
    for n in range(3):
        writer.write(f"line {n}\n".encode())
        tailer.read_new()
        assert rotation.rotate_after_read(tailer) is None
    assert log.read_bytes() == b"line 0\nline 1\nline 2\n"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cannot rotate" in warnings[0].getMessage()
    assert warnings[0].target == "remi"  # type: ignore[attr-defined]
    (blocker / "inside").unlink()
    blocker.rmdir()
    assert rotation.rotate_after_read(tailer) is not None
    assert any("works again" in r.getMessage() for r in caplog.records)
    assert numbered(log, 1).read_bytes() == b"line 0\nline 1\nline 2\n"


@pytest.mark.parametrize(("max_bytes", "due"), [(0, False), (10, False), (5, True)])
def test_due_only_past_max_bytes_and_never_at_zero(log: Path, writer: BinaryIO,
                                                   max_bytes: int, due: bool) -> None:
    tailer = Tailer(log)
    writer.write(b"12345\n")
    chunk = tailer.read_new()
    assert LogRotation("remi", LogSettings(max_bytes=max_bytes, keep=1)).due(tailer, chunk) is due
