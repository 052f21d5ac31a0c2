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
