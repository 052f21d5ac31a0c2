"""Error occurrences as they are read: grouped, stored, and remembered until the check.

Every read of Remi's logs (the 2-s probe, a death, the check) ends here: its error
records are folded into groups and stored together with the log positions they were read
up to, in one transaction (``Store.save_reading``). So ``remi-ops errors`` shows an error
seconds after it is written, and a watcher killed between a probe and a check neither
loses nor double-counts one. The groups seen since the last check, and which of them were
new, wait here for that check's report and alert conditions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from remi_ops.clock import Clock
from remi_ops.domain import ErrorGroup, LogKind, LogRecord
from remi_ops.logs.error_groups import ErrorAggregator
from remi_ops.logs.redact import Redact
from remi_ops.store.database import Store


def merged(old: ErrorGroup, new: ErrorGroup) -> ErrorGroup:
    """Two batches of one group: counts added, the later batch's title and sample."""
    return replace(new, count=old.count + new.count,
                   first_seen=min(old.first_seen, new.first_seen),
                   last_seen=max(old.last_seen, new.last_seen))


class Occurrences:
    """One target's error occurrences since the last check.

    ``recording=False`` (a bystander's ``remi-ops health``) stores nothing and only asks
    the store which groups would be new.
    """

    def __init__(self, target: str, store: Store, redact: Redact, clock: Clock,
                 *, recording: bool = True) -> None:
        self.target, self.store, self.redact, self.clock = target, store, redact, clock
        self.recording = recording
        self.seen: dict[str, ErrorGroup] = {}
        self.fresh: dict[str, ErrorGroup] = {}
        self.errors = 0  # error records since the last check (a burst is counted here)

    def keep(self, records: Sequence[LogRecord],
             positions: Mapping[str, Mapping[str, Any]]) -> None:
        """Group ``records`` and store them with ``positions`` (one transaction)."""
        # a hang has an alert of its own, not an error group
        batch = ErrorAggregator(self.target, self.redact).fold(
            (r for r in records if r.kind is not LogKind.HANG), self.clock.now()).groups
        if self.recording:
            fresh_marks = set(self.store.save_reading(self.target, batch, positions))
            fresh = [g for g in batch if g.fingerprint in fresh_marks]
        else:
            fresh = list(self.store.fresh_groups(self.target, batch))
        for group in batch:
            old = self.seen.get(group.fingerprint)
            self.seen[group.fingerprint] = group if old is None else merged(old, group)
        for group in fresh:
            self.fresh.setdefault(group.fingerprint, group)
        self.errors += sum(1 for r in records
                           if r.kind in (LogKind.CRASH, LogKind.ERROR, LogKind.TIMEOUT))

    def take(self) -> tuple[tuple[ErrorGroup, ...], tuple[ErrorGroup, ...]]:
        """The groups seen and the new ones since the last check; the next starts here."""
        seen, fresh = tuple(self.seen.values()), tuple(self.fresh.values())
        self.seen, self.fresh, self.errors = {}, {}, 0
        return seen, fresh
