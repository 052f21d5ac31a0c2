"""The SQLite store: everything the watcher must remember across restarts.

One file, WAL mode, one connection shared behind a lock (``store.connection``: opening,
corruption handling, transactions). ``Store`` is that connection plus its row groups, one
module each: ``history_rows`` (incidents, transitions, restarts, scans, audit),
``error_group_rows`` and ``state_rows`` (log positions, key/value state, alert engine
state); the outbox's rows are ``outbox_rows``.
"""

from __future__ import annotations

from remi_ops.store.connection import StoreConnection, StoreCorrupt
from remi_ops.store.error_group_rows import REGRESSION_QUIET, ErrorGroupRows
from remi_ops.store.history_rows import HistoryRows
from remi_ops.store.state_rows import (
    ENGINE_STATE_KEY,
    StateRows,
    put_state_tx,
    save_alert_state_tx,
)

__all__ = ["ENGINE_STATE_KEY", "REGRESSION_QUIET", "Store", "StoreConnection", "StoreCorrupt",
           "put_state_tx", "save_alert_state_tx"]


class Store(HistoryRows, ErrorGroupRows, StateRows):
    """Typed access to the state database. Every method is safe to call from any thread."""
