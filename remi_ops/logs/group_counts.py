"""Error occurrences counted per group, for a scan that reads a whole log at once.

:class:`~remi_ops.logs.error_groups.ErrorAggregator` keeps a tally for the batch and one
for the running totals, and a fold result per batch: what a watcher's check reports. A full
scan only needs the totals, so :class:`GroupCounts` keeps per group a count, the first and
last time seen and the latest occurrence, and describes each group once at the end (title,
sample and culprit of the latest occurrence, redacted), the way the aggregator does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from remi_ops.domain import ErrorGroup, LogRecord
from remi_ops.logs.error_groups import MAX_GROUPS, ErrorAggregator
from remi_ops.logs.redact import Redact
from remi_ops.logs.tracebacks import GROUPED_KINDS, fingerprint_record


@dataclass(slots=True)
class _Count:
    count: int
    first: datetime
    last: datetime
    latest: LogRecord  # raw: only ever leaves through ErrorAggregator (redacted)


class GroupCounts:
    """Occurrences per fingerprint, in the order groups were first seen."""

    def __init__(self, max_groups: int = MAX_GROUPS) -> None:
        self._max_groups = max_groups
        self._seen: dict[str, _Count] = {}

    def add(self, records: Iterable[LogRecord], now: datetime) -> None:
        """Count the groupable ``records``; ``now`` dates those without a timestamp."""
        seen = self._seen
        for record in records:
            if record.kind not in GROUPED_KINDS:
                continue
            fp = fingerprint_record(record)
            at = now if record.at is None else record.at
            tally = seen.get(fp)
            if tally is None:
                seen[fp] = _Count(1, at, at, record)
                continue
            tally.count += 1
            tally.first = min(tally.first, at)
            tally.last = max(tally.last, at)
            tally.latest = record
        if len(seen) > self._max_groups * 1.1:
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        """Bound memory as the aggregator does: past ``max_groups``, keep the groups seen
        most recently."""
        keep = sorted(self._seen.items(), key=lambda kv: kv[1].last, reverse=True)
        kept = {fp for fp, _ in keep[:self._max_groups]}
        self._seen = {fp: t for fp, t in self._seen.items() if fp in kept}

    def groups(self, target: str, redact: Redact) -> dict[str, ErrorGroup]:
        """Each group described from its latest occurrence, with its totals."""
        out: dict[str, ErrorGroup] = {}
        for fp, tally in self._seen.items():
            described = ErrorAggregator(target, redact).fold([tally.latest], tally.last)
            out[fp] = replace(described.groups[0], count=tally.count, first_seen=tally.first,
                              last_seen=tally.last)
        return out
