"""Log positions and key/value state survive in the store."""

from __future__ import annotations

from remi_ops.store.database import Store


def test_positions_and_state(store: Store) -> None:
    assert store.load_position("remi", "stderr") is None
    store.save_position("remi", "stderr", {"inode": 5, "offset": 10})
    store.save_position("remi", "stderr", {"inode": 5, "offset": 20})
    assert store.load_position("remi", "stderr") == {"inode": 5, "offset": 20}
    assert store.get_state("x") is None
    store.put_state("x", {"a": [1, 2]})
    assert store.get_state("x") == {"a": [1, 2]}
