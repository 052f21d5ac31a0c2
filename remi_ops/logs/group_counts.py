"""Error occurrences counted per group, for a scan that reads a whole log at once.

:class:`~remi_ops.logs.error_groups.ErrorAggregator` keeps a tally for the batch and one
for the running totals, and a fold result per batch: what a watcher's check reports. A full
scan only needs the totals, so :class:`GroupCounts` keeps per group a count, the first and
last time seen and the latest occurrence, and describes each group once at the end (title,
sample and culprit of the latest occurrence, redacted), the way the aggregator does.

A full scan does not even build a record per occurrence: the parser hands a record that
came whole from the fast path (:mod:`remi_ops.logs.scan`) to :meth:`GroupCounts.count` as
its kind, group and time with its header and parsed body, and only the latest occurrence
of each group is ever built into a :class:`~remi_ops.domain.LogRecord` (by ``build``, in
:meth:`GroupCounts.groups`). Records the parser built anyway (the line-by-line fallback) go
to :meth:`GroupCounts.add_record`, in file order with the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from remi_ops.domain import ErrorGroup, LogKind, LogRecord
from remi_ops.logs.bodies import RecordBody
from remi_ops.logs.body_shapes import Shaped
from remi_ops.logs.error_groups import MAX_GROUPS, ErrorAggregator
from remi_ops.logs.headers import Header
from remi_ops.logs.redact import Redact
from remi_ops.logs.tracebacks import GROUPED_KINDS, fingerprint_record

#: a latest occurrence kept unbuilt: the header and parsed body it is built from
Unbuilt = tuple[Header, RecordBody | Shaped]
Build = Callable[[Header, RecordBody | Shaped], LogRecord]


@dataclass(slots=True)
class _Count:
    count: int
    first: datetime
    last: datetime
    latest: LogRecord | Unbuilt  # raw: only ever leaves through ErrorAggregator (redacted)


class GroupCounts:
    """Occurrences per fingerprint, in the order groups were first seen.

    ``records`` counts the records other than INFO handed to :meth:`count` and
    :meth:`add_record`; ``now`` dates those without a timestamp.
    """

    def __init__(self, max_groups: int = MAX_GROUPS, now: datetime | None = None) -> None:
        self._max_groups = max_groups
        self._seen: dict[str, _Count] = {}
        self.records = 0
        self.now = now

    def add(self, records: Iterable[LogRecord], now: datetime) -> None:
        """Count the groupable ``records``; ``now`` dates those without a timestamp."""
        seen = self._seen
        for record in records:
            if record.kind not in GROUPED_KINDS:
                continue
            self._add(seen, fingerprint_record(record), now if record.at is None else record.at,
                      record)
        self.trim()

    def add_record(self, record: LogRecord) -> None:
        """One record the parser built, in file order with those given to :meth:`count`."""
        if record.kind is LogKind.INFO:
            return
        self.records += 1
        if record.kind in GROUPED_KINDS:
            at = record.at if record.at is not None else self._now()
            self._add(self._seen, fingerprint_record(record), at, record)

    def count(self, fp: str, at: datetime | None, head: Header, body: RecordBody | Shaped
              ) -> None:
        """One record other than INFO, unbuilt: its group (``""`` when it is not grouped),
        its time, and what the record would be built from."""
        self.records += 1
        if not fp:
            return
        if at is None:
            at = self._now()
        tally = self._seen.get(fp)
        if tally is None:
            self._seen[fp] = _Count(1, at, at, (head, body))
            return
        tally.count += 1
        tally.first = min(tally.first, at)
        tally.last = max(tally.last, at)
        tally.latest = (head, body)

    @staticmethod
    def _add(seen: dict[str, _Count], fp: str, at: datetime, latest: LogRecord) -> None:
        tally = seen.get(fp)
        if tally is None:
            seen[fp] = _Count(1, at, at, latest)
            return
        tally.count += 1
        tally.first = min(tally.first, at)
        tally.last = max(tally.last, at)
        tally.latest = latest

    def _now(self) -> datetime:
        if self.now is None:
            raise ValueError("GroupCounts.now must date records without a timestamp")
        return self.now

    def trim(self) -> None:
        """Bound memory as the aggregator does: past ``max_groups``, keep the groups seen
        most recently (call it after each batch, as the aggregator folds)."""
        if len(self._seen) <= self._max_groups * 1.1:
            return
        keep = sorted(self._seen.items(), key=lambda kv: kv[1].last, reverse=True)
        kept = {fp for fp, _ in keep[:self._max_groups]}
        self._seen = {fp: t for fp, t in self._seen.items() if fp in kept}

    def groups(self, target: str, redact: Redact, build: Build | None = None
               ) -> dict[str, ErrorGroup]:
        """Each group described from its latest occurrence, with its totals (``build``
        makes that occurrence's record when it was counted unbuilt)."""
        out: dict[str, ErrorGroup] = {}
        for fp, tally in self._seen.items():
            latest = tally.latest
            if isinstance(latest, tuple):
                if build is None:
                    raise ValueError("records counted unbuilt need build to be described")
                latest = build(*latest)
            described = ErrorAggregator(target, redact).fold([latest], tally.last)
            out[fp] = replace(described.groups[0], count=tally.count, first_seen=tally.first,
                              last_seen=tally.last)
        return out
