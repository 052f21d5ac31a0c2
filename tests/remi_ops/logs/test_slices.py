"""A read parsed in slices (the loop gets the GIL between them) gives the very records
a single feed gives, on every sample log and wherever the slices are cut."""

from __future__ import annotations

import time

import pytest
from bubabot_local.logkit import DATA

from remi_ops.logs.parse import LogParser
from remi_ops.logs.slices import feed_in_slices

SAMPLES = sorted(p.name for p in DATA.glob("*.log"))
BIG = b"".join((DATA / name).read_bytes() for name in SAMPLES) * 3


@pytest.mark.parametrize("keep_info", [False, True])
@pytest.mark.parametrize("slice_bytes", [1, 97, 4096, 10**9])
def test_slices_give_the_same_records(keep_info: bool, slice_bytes: int) -> None:
    whole = LogParser(source="stderr", keep_info=keep_info)
    expected = whole.feed_bytes(BIG) + whole.flush()
    sliced = LogParser(source="stderr", keep_info=keep_info)
    got = feed_in_slices(sliced, BIG, slice_bytes) + sliced.flush()
    assert got == expected and len(expected) > 10


def test_a_big_read_lets_other_threads_in_between_slices(
        monkeypatch: pytest.MonkeyPatch) -> None:
    yields: list[float] = []
    monkeypatch.setattr(time, "sleep", yields.append)  # what slices calls between slices
    parser = LogParser(source="stderr", keep_info=False)
    feed_in_slices(parser, BIG, 4096)
    assert len(yields) >= len(BIG) // 4096 - 1 and set(yields) == {0}
