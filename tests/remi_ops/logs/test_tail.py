"""Tailing real files: appends, rotation, truncation, partial lines, restarts of the watcher."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

import pytest

from remi_ops.logs.tail import CUT_MARKER, LogPosition, TailChunk, Tailer


def append(path: Path, data: bytes | str) -> None:
    with open(path, "ab") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def lines(n: int, start: int = 0, prefix: str = "line") -> str:
    return "".join(f"{prefix} {i}\n" for i in range(start, start + n))


def drain(tailer: Tailer, max_bytes: int = 16 * 1024 * 1024) -> list[str]:
    """Everything available, following ``more``."""
    out: list[str] = []
    while True:
        chunk = tailer.read_new(max_bytes)
        out += chunk.lines
        if not chunk.more:
            return out


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "bot_error.log"


def test_missing_file_is_empty_not_an_error(log: Path) -> None:
    """A log that does not exist yet gives nothing and no error."""
    chunk = Tailer(log).read_new()
    assert chunk.lines == [] and chunk.data == b""
    assert chunk.position.inode == 0


def test_file_created_after_attach_is_read_from_its_start(log: Path) -> None:
    """Once the file appears, every line in it is new."""
    tailer = Tailer(log)
    tailer.read_new()
    log.write_text(lines(3))
    chunk = tailer.read_new()
    assert chunk.lines == ["line 0", "line 1", "line 2"]
    assert chunk.created


def test_append_while_reading(log: Path) -> None:
    """Each read returns exactly what was appended since the last one."""
    log.write_text(lines(2))
    tailer = Tailer(log)
    assert tailer.read_new().lines == ["line 0", "line 1"]
    assert tailer.read_new().lines == []
    append(log, lines(2, 2))
    assert tailer.read_new().lines == ["line 2", "line 3"]


def test_partial_last_line_is_held_back_until_complete(log: Path) -> None:
    """A line without its newline is not emitted, then emitted whole, once."""
    log.write_text("one\ntw")
    tailer = Tailer(log)
    first = tailer.read_new()
    assert first.lines == ["one"]
    assert first.position.offset == 4  # the committed offset stops before the partial line
    append(log, "o\nthr")
    assert tailer.read_new().lines == ["two"]
    append(log, "ee\n")
    assert tailer.read_new().lines == ["three"]


def test_partial_line_is_not_reread_from_disk(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Steady state reads only the appended bytes, even while a partial line waits."""
    log.write_text("x" * 1000)
    tailer = Tailer(log)
    tailer.read_new()
    append(log, "y" * 10)
    reads: list[int] = []
    real_open = open

    class Spy:
        def __init__(self, f: IO[Any]) -> None:
            self.f = f

        def __getattr__(self, name: str) -> object:
            return getattr(self.f, name)

        def __enter__(self) -> Spy:
            return self

        def __exit__(self, *exc: object) -> None:
            self.f.close()

        def read(self, n: int = -1) -> bytes:
            data: bytes = self.f.read(n)
            reads.append(len(data))
            return data

    monkeypatch.setattr("builtins.open", lambda *a, **k: Spy(real_open(*a, **k)))
    tailer.read_new()
    assert sum(reads) <= 10 + 128  # the new bytes and the small head fingerprint


def test_restart_from_persisted_position_continues_exactly(log: Path) -> None:
    """A new Tailer from a saved position dict: no duplicates, no loss."""
    log.write_text(lines(5))
    tailer = Tailer(log)
    seen = tailer.read_new().lines
    append(log, lines(5, 5) + "partial")
    seen += tailer.read_new().lines
    saved = tailer.read_new().position.to_dict()
    append(log, " done\n" + lines(3, 10))
    restarted = Tailer(log, LogPosition.from_dict(dict(saved)))
    seen += restarted.read_new().lines
    assert seen == [f"line {i}" for i in range(10)] + ["partial done"] + [
        f"line {i}" for i in range(10, 13)]


def test_position_round_trips_through_a_dict(log: Path) -> None:
    """to_dict/from_dict are inverse; bad dicts are refused."""
    pos = LogPosition(str(log), 1, 2, 3, 4, "abcd", True)
    assert LogPosition.from_dict(pos.to_dict()) == pos
    with pytest.raises(ValueError, match="missing"):
        LogPosition.from_dict({"offset": 3})
    with pytest.raises(ValueError, match="integer"):
        LogPosition.from_dict({"path": "x", "offset": [1]})
    with pytest.raises(ValueError, match="negative"):
        LogPosition.from_dict({"path": "x", "offset": -1})


def test_first_attach_reads_only_the_tail_from_a_line_boundary(log: Path) -> None:
    """On a big existing log only the last initial_read_bytes are read, from a new line."""
    log.write_text(lines(100_000))
    size = log.stat().st_size
    chunk = Tailer(log, initial_read_bytes=1000).read_new()
    assert 0 < len(chunk.data) <= 1000
    assert chunk.lines[-1] == "line 99999"
    assert all(line.startswith("line ") for line in chunk.lines)  # no cut first line
    assert chunk.skipped_bytes == size - len(chunk.data)


def test_first_attach_at_exact_line_boundary_keeps_that_line(log: Path) -> None:
    """If the tail starts right after a newline, its first line is whole and kept."""
    log.write_text("aaaa\nbbbb\n")
    assert Tailer(log, initial_read_bytes=5).read_new().lines == ["bbbb"]


def test_rename_rotation_drains_old_file_then_reads_new(log: Path) -> None:
    """bot.log → bot.log.1 and a new bot.log: the old file's rest, then the new file."""
    log.write_text(lines(2))
    tailer = Tailer(log)
    tailer.read_new()
    append(log, "last words\n")
    log.rename(log.with_name(log.name + ".1"))
    log.write_text("fresh 0\n")
    chunk = tailer.read_new()
    assert chunk.rotated
    assert chunk.lines == ["last words", "fresh 0"]
    append(log, "fresh 1\n")
    assert tailer.read_new().lines == ["fresh 1"]


def test_rotation_without_old_file_reads_new_from_start(log: Path) -> None:
    """The old file is gone (deleted, compressed): the new file is read from its start."""
    log.write_text(lines(2))
    tailer = Tailer(log)
    tailer.read_new()
    log.unlink()
    assert tailer.read_new().lines == []  # nothing to read while no file is there
    log.write_text("new 0\n")
    chunk = tailer.read_new()
    # the new file may even get the old inode number back: the head fingerprint tells
    assert (chunk.rotated or chunk.truncated) and chunk.lines == ["new 0"]


def test_rotation_flushes_the_old_partial_line(log: Path) -> None:
    """A partial line of the rotated file is emitted: that file will not grow any more."""
    log.write_text("complete\nhalf")
    tailer = Tailer(log)
    tailer.read_new()
    log.rename(log.with_name(log.name + ".1"))
    log.write_text("new\n")
    assert tailer.read_new().lines == ["half", "new"]


def test_copytruncate_reads_from_start(log: Path) -> None:
    """logrotate copytruncate: size drops below the offset → start over."""
    log.write_text(lines(10))
    tailer = Tailer(log)
    tailer.read_new()
    inode = log.stat().st_ino
    with open(log, "r+b") as f:
        f.truncate(0)
    append(log, "after 0\n")
    assert log.stat().st_ino == inode
    chunk = tailer.read_new()
    assert chunk.truncated and chunk.lines == ["after 0"]


def test_truncate_then_regrow_past_offset_is_detected(log: Path) -> None:
    """Truncated and refilled beyond the old offset between two checks: the head differs."""
    log.write_text("[2026-01-24 03:00:00] first run\n")
    tailer = Tailer(log)
    tailer.read_new()
    with open(log, "r+b") as f:
        f.truncate(0)
    append(log, "[2026-01-24 04:00:00] second run, a longer first line\nmore\n")
    chunk = tailer.read_new()
    assert chunk.truncated
    assert chunk.lines == ["[2026-01-24 04:00:00] second run, a longer first line", "more"]


def test_truncate_to_zero_and_nothing_new(log: Path) -> None:
    """An emptied file is not an error and yields nothing."""
    log.write_text(lines(3))
    tailer = Tailer(log)
    tailer.read_new()
    os.truncate(log, 0)
    chunk = tailer.read_new()
    assert chunk.lines == [] and chunk.position.offset == 0


def test_invalid_utf8_and_nul_bytes(log: Path) -> None:
    """Invalid UTF-8 is replaced, NUL bytes survive, nothing raises."""
    log.write_bytes(b"ok \xff\xfe end\nnul \x00 inside\n\xe2\x82\n")
    assert Tailer(log).read_new().lines == ["ok \ufffd\ufffd end", "nul \x00 inside", "\ufffd"]


def test_crlf_lines(log: Path) -> None:
    """Windows line ends lose their carriage return."""
    log.write_bytes(b"a\r\nb\r\n")
    assert Tailer(log).read_new().lines == ["a", "b"]


def test_very_long_line_is_cut_with_marker_and_memory_stays_bounded(log: Path) -> None:
    """A 10 MB line becomes max_line_bytes plus a marker; the next line is intact."""
    with open(log, "wb") as f:
        f.write(b"head\n" + b"x " * (5 * 1024 * 1024) + b"\nnext\n")
    tailer = Tailer(log, max_line_bytes=1024, initial_read_bytes=64 * 1024 * 1024)
    chunk = tailer.read_new()
    assert chunk.lines[0] == "head"
    assert chunk.lines[1].endswith(CUT_MARKER.decode())
    assert len(chunk.lines[1].encode()) <= 1024 + len(CUT_MARKER)
    assert chunk.lines[2] == "next"
    assert chunk.skipped_bytes >= 10 * 1024 * 1024 - 1024
    assert len(tailer._reader.pending) == 0  # nothing of the long line is buffered


def test_long_line_split_across_reads_and_restart(log: Path) -> None:
    """A long line still being written: cut once, the rest skipped, even across a restart."""
    tailer = Tailer(log, max_line_bytes=100)
    log.write_bytes(b"y" * 300)
    first = tailer.read_new()
    assert len(first.lines) == 1 and first.lines[0].endswith(CUT_MARKER.decode())
    assert first.position.skipping
    append(log, b"y" * 300)
    assert tailer.read_new().lines == []
    restarted = Tailer(log, LogPosition.from_dict(tailer.read_new().position.to_dict()),
                       max_line_bytes=100)
    append(log, b"yyy\nafter\n")
    assert restarted.read_new().lines == ["after"]


def test_cut_does_not_emit_half_a_token(log: Path) -> None:
    """A cut inside a token-like run drops the run: no secret fragment escapes."""
    secret = "MTA5ODc2NTQzMjEwOTg3NjU0.GabcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
    log.write_text("a" * 30 + " " + secret + " tail\n")
    line = Tailer(log, max_line_bytes=50).read_new().lines[0]
    assert secret[:8] not in line and line.startswith("a" * 30)


def test_max_bytes_bounds_one_read_and_more_says_so(log: Path) -> None:
    """read_new(max_bytes) reads at most that much; ``more`` asks for another call."""
    log.write_text(lines(1000))
    tailer = Tailer(log)
    chunk = tailer.read_new(max_bytes=100)
    assert chunk.more and len(chunk.data) <= 100
    assert [*chunk.lines, *drain(tailer, 100)] == [f"line {i}" for i in range(1000)]


def test_steady_state_cost_does_not_depend_on_file_size(log: Path) -> None:
    """After a big file was read, a small append is read by seeking, not rescanning."""
    log.write_bytes(b"z" * 99 + b"\n" + (b"q" * 99 + b"\n") * 200_000)
    tailer = Tailer(log, initial_read_bytes=0)
    tailer.read_new()
    append(log, "new\n")
    chunk = tailer.read_new()
    assert chunk.lines == ["new"]
    assert isinstance(chunk, TailChunk) and chunk.skipped_bytes == 0
