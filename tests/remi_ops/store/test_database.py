"""The store as a whole: safe from many threads, and only ever given aware times."""

from __future__ import annotations

import threading

import pytest

from remi_ops.clock import FakeClock
from remi_ops.store.database import Store


def test_store_is_usable_from_many_threads(store: Store) -> None:
    """Callers use asyncio.to_thread: concurrent writers must neither fail nor lose rows."""
    def work(n: int) -> None:
        for i in range(50):
            store.put_state(f"t{n}-{i}", i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.query("SELECT count(*) FROM kv_state")[0][0] == 400


def test_naive_datetimes_are_rejected(store: Store, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.record_transition("remi", clock.now().replace(tzinfo=None), "a", "b", "c")
