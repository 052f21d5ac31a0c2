"""The tailer across logrotate: the renamed file the writer still has open, and a
copytruncate copy, drained only when it begins as the file we were reading did."""

from __future__ import annotations

import os
from pathlib import Path

from remi_ops.logs.tail import Tailer


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)


def test_a_renamed_file_still_written_is_followed_until_the_writer_moves(tmp_path: Path) -> None:
    log, old = tmp_path / "bot.log", tmp_path / "bot.log.1"
    append(log, "a\n")
    tailer = Tailer(log)
    assert tailer.read_new().lines == ["a"]
    os.rename(log, old)
    append(log, "")  # logrotate's new, empty file
    append(old, "b\n")  # the writer's fd still points at the renamed file
    tailer.follow = old
    assert tailer.read_new().lines == ["b"]
    assert tailer.reading == old
    append(old, "c\n")
    append(log, "d\n")  # the writer restarted on the new file
    tailer.follow = log
    chunk = tailer.read_new()
    assert chunk.lines == ["c", "d"] and chunk.rotated and tailer.reading == log


def test_copytruncate_drains_its_copy_only_when_the_head_matches(tmp_path: Path) -> None:
    log, copy = tmp_path / "bot.log", tmp_path / "bot.log.1"
    append(log, "first line of ours\n")
    tailer = Tailer(log)
    tailer.read_new()
    append(log, "unread\n")
    copy.write_bytes(log.read_bytes())
    os.truncate(log, 0)
    append(log, "after\n")
    assert tailer.read_new().lines == ["unread", "after"]

    append(log, "more\n")
    tailer.read_new()
    copy.write_text("someone else's file, longer than ours was by far\nforeign\n")
    os.truncate(log, 0)
    append(log, "x\n")
    assert tailer.read_new().lines == ["x"]


def test_copytruncate_after_a_read_of_an_empty_log_keeps_the_copy(tmp_path: Path) -> None:
    """Found by bench/chaos.py: the last read found the log empty, so there was no head to
    compare; a burst then went half to the copy and half to the truncated file, and the
    copy's half (about 1,000 of 2,000 errors) was lost. Read once, not again later."""
    log = tmp_path / "bot_error.log"
    log.write_text("", encoding="utf-8")
    made = log.stat().st_mtime - 60  # emptied a minute ago (file times tick in jiffies)
    os.utime(log, (made, made))
    tailer = Tailer(log)
    assert tailer.read_new().data == b""
    append(log, "".join(f"error {i}\n" for i in range(500)))
    copy = log.with_name("bot_error.log.1")
    copy.write_bytes(log.read_bytes())  # logrotate's copytruncate: copy, then truncate
    with log.open("r+b") as fh:
        fh.truncate(0)
    append(log, "".join(f"error {i}\n" for i in range(500, 600)))
    lines = tailer.read_new().data.decode().splitlines()
    assert lines == [f"error {i}" for i in range(600)]
    assert tailer.read_new().data == b""  # the copy was read once
    with log.open("r+b") as fh:
        fh.truncate(0)
    assert tailer.read_new().data == b""  # empty again: still not read twice
    append(log, "error 600\n")
    assert tailer.read_new().data == b"error 600\n"
