"""Readers see the old file or the new one, never half of either, and no litter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remi_ops.atomicfile import write_atomically, write_json_atomically


def test_replaces_the_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / ".bot_health"
    write_json_atomically(path, {"status": "healthy"})
    write_json_atomically(path, {"status": "down"})
    assert json.loads(path.read_text()) == {"status": "down"}
    assert [p.name for p in path.parent.iterdir()] == [".bot_health"]


def test_a_failed_write_keeps_the_old_content(tmp_path: Path) -> None:
    path = tmp_path / "beacon.json"
    write_atomically(path, "old")
    with pytest.raises(UnicodeEncodeError):  # fails while writing the temp file
        write_atomically(path, "half \udcff")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["beacon.json"]
