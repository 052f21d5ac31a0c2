"""``swap_in``: the new file takes the old one's name in one step, the old one is gone,
and a first write (nothing to swap with) is a plain rename."""

from __future__ import annotations

import threading
from pathlib import Path

from remi_ops.host.swap import swap_in


def test_the_new_file_takes_the_name_and_the_old_one_is_gone(tmp_path: Path) -> None:
    path, new = tmp_path / "status", tmp_path / ".status.tmp"
    path.write_text("old")
    new.write_text("new")
    swap_in(new, path)
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status"]


def test_a_first_write_has_nothing_to_swap_with(tmp_path: Path) -> None:
    path, new = tmp_path / "status", tmp_path / ".status.tmp"
    new.write_text("first")
    swap_in(new, path)
    assert path.read_text() == "first"
    assert not new.exists()


def test_a_reader_sees_one_whole_file_or_the_other(tmp_path: Path) -> None:
    path = tmp_path / "status"
    path.write_text("a" * 4096)
    seen: set[str] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.add(path.read_text())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(300):
            new = tmp_path / ".status.tmp"
            new.write_text("ab"[i % 2] * 4096)
            swap_in(new, path)
    finally:
        done.set()
        reader.join()
    assert seen <= {"a" * 4096, "b" * 4096}
