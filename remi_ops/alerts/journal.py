"""The event journal, read once: which journaled events the alert engine already has.

``watch.record`` writes a restart and the event announcing it in one transaction (the
journal), so a watcher killed right after a restart still announces it. The engine must
take each journaled event exactly once and *in order with the conditions around it*: a
hang observed, then the restart made for it, then the healthy check after it. So the
watch asks for the journal to be taken right after it hands over its conditions (through
the hub's ordered inbox), and the outbox's commit takes whatever is left; both go through
one ``JournalReader``, whose lock makes "taken" mean once across threads. The rows are
deleted in the commit that persists the engine state that took them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from remi_ops.alerts.model import AlertKey
from remi_ops.domain import Severity
from remi_ops.store.database import Store
from remi_ops.store.event_journal_rows import journaled

if TYPE_CHECKING:
    from remi_ops.alerts.engine import AlertEngine


class JournalReader:
    """Hands journal rows to the engine once each; remembers them until a commit saves."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._taken: list[int] = []  # rows the engine has, not yet deleted by a commit
        self._lock = threading.Lock()

    def take(self, engine: AlertEngine) -> None:
        """Give ``engine`` every journaled event it does not have yet, oldest first."""
        with self._lock:
            taken = set(self._taken)
            for entry in journaled(self.store):
                if entry.id not in taken:
                    engine.event(entry.at, AlertKey(entry.target, entry.kind),
                                 Severity(entry.severity), entry.summary, entry.details)
                    self._taken.append(entry.id)

    def taken(self) -> list[int]:
        """The rows the engine has so far (a commit deletes these with its state)."""
        with self._lock:
            return list(self._taken)

    def saved(self, ids: Sequence[int]) -> None:
        """A commit deleted ``ids``; rows taken since stay remembered for the next one."""
        gone = set(ids)
        with self._lock:
            self._taken = [i for i in self._taken if i not in gone]
