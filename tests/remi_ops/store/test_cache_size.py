"""The store's page cache is bounded below SQLite's default: a watcher's memory does not
grow with a long history (docs/scale.md, "Memory")."""

from __future__ import annotations

from pathlib import Path

from remi_ops.clock import FakeClock
from remi_ops.store.connection import CACHE_KIB
from remi_ops.store.database import Store


def test_the_store_s_connection_caches_at_most_its_share_of_pages(tmp_path: Path) -> None:
    with Store.open(tmp_path / "state.sqlite3", FakeClock()) as store:
        (setting,) = store.query("PRAGMA cache_size")[0]
    assert setting == -CACHE_KIB  # negative: KiB, not pages
    assert CACHE_KIB < 2000  # SQLite's default, which a watcher kept for months of history
