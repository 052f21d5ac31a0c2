"""A fake clock and a store on a real file, for every store test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from remi_ops.clock import FakeClock
from remi_ops.store.database import Store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    s = Store.open(tmp_path / "state.db", clock)
    yield s
    s.close()
