"""Error groups: repeats of one error counted, not re-posted; and the parsing front door.

:class:`ErrorAggregator` folds parsed records into :class:`~remi_ops.domain.ErrorGroup`
counts. The parsing and grouping pieces live in :mod:`remi_ops.logs.parse` (records and
their kinds), :mod:`remi_ops.logs.scan` (the bulk fast path) and :mod:`remi_ops.logs.tracebacks`
(traceback grammar and fingerprints); they are re-exported here. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from remi_ops.clock import Clock, SystemClock
from remi_ops.domain import ErrorGroup, LogKind, LogRecord
from remi_ops.logs.parse import LogParser, classify, gateway_state, parse_header
from remi_ops.logs.redact import Redact
from remi_ops.logs.redacted import Redacted
from remi_ops.logs.tracebacks import (
    GROUPED_KINDS,
    ExceptionBlock,
    Frame,
    culprit_of,
    fingerprint,
    fingerprint_record,
    fingerprint_text,
    is_in_app,
    normalize_message,
    parse_traceback,
    strip_ansi,
    title_of,
)

__all__ = [
    "GROUPED_KINDS", "ErrorAggregator", "ExceptionBlock", "FoldResult", "Frame", "LogParser",
    "classify", "culprit_of", "fingerprint", "fingerprint_record", "fingerprint_text",
    "gateway_state", "is_in_app", "normalize_message", "parse_header", "parse_traceback",
    "strip_ansi", "title_of",
]

SAMPLE_LIMIT = 4000
MAX_GROUPS = 10_000


# --------------------------------------------------------------------------- groups


@dataclass(frozen=True, slots=True)
class FoldResult:
    """What one :meth:`ErrorAggregator.fold` saw.

    ``groups`` describe this batch only (``count`` = occurrences in the batch, first/last
    seen within it), which is what the store adds to its running totals.
    """

    new: tuple[str, ...] = ()  # fingerprints this aggregator had never seen, in order
    groups: tuple[ErrorGroup, ...] = ()


@dataclass(slots=True)
class _Tally:
    kind: LogKind
    count: int
    first_seen: datetime
    last_seen: datetime
    latest: LogRecord | None = None  # raw: only ever leaves through _describe (redacted)
    summary: ErrorGroup | None = None

    def add(self, record: LogRecord, at: datetime) -> None:
        self.count += 1
        self.first_seen = min(self.first_seen, at)
        self.last_seen = max(self.last_seen, at)
        self.kind, self.latest, self.summary = record.kind, record, None


class ErrorAggregator:
    """Folds records into :class:`ErrorGroup` counts, in memory.

    Only CRASH, ERROR, FATAL_CONFIG, TIMEOUT and HANG records are grouped. Title, culprit
    and sample come from the latest occurrence and are redacted with the injected
    ``redact`` when a group is produced, so raw log text never leaves the object.
    ``known`` seeds totals (e.g. from the store) so that ``new`` means never seen.
    """

    def __init__(self, target: str, redact: Redact,
                 known: Iterable[ErrorGroup] = (), *, clock: Clock | None = None,
                 sample_limit: int = SAMPLE_LIMIT, max_groups: int = MAX_GROUPS) -> None:
        self.target = target
        self._redact = redact
        self._clock = clock or SystemClock()
        self._limit = sample_limit
        self._max_groups = max_groups
        self._totals: dict[str, _Tally] = {
            g.fingerprint: _Tally(g.kind, g.count, g.first_seen, g.last_seen, summary=g)
            for g in known}

    def fold(self, records: Iterable[LogRecord], now: datetime | None = None) -> FoldResult:
        """Count the groupable records; ``now`` (default: the clock) dates undated ones."""
        batch: dict[str, _Tally] = {}
        new: list[str] = []
        for record in records:
            if record.kind not in GROUPED_KINDS:
                continue
            fp = fingerprint_record(record)
            if record.at is not None:
                at = record.at
            else:
                now = now or self._clock.now()
                at = now
            for tallies in (batch, self._totals):
                tally = tallies.get(fp)
                if tally is None:
                    tallies[fp] = _Tally(record.kind, 1, at, at, record)
                    if tallies is self._totals:
                        new.append(fp)
                else:
                    tally.add(record, at)
        groups = tuple(self._describe(fp, tally) for fp, tally in batch.items())
        self._forget_oldest()
        return FoldResult(tuple(new), groups)

    def _forget_oldest(self) -> None:
        """Bound memory: past ``max_groups``, drop the groups seen longest ago (the store
        keeps them; here they would only count as new again if they came back)."""
        if len(self._totals) <= self._max_groups * 1.1:
            return
        keep = sorted(self._totals.items(), key=lambda kv: kv[1].last_seen, reverse=True)
        self._totals = dict(keep[:self._max_groups])

    def fingerprint_text(self, text: str) -> str:
        """Fingerprint of a traceback in free text (a scan test's output); see tracebacks."""
        return fingerprint_text(text)

    def group(self, fp: str) -> ErrorGroup | None:
        """The running totals of one group."""
        tally = self._totals.get(fp)
        if tally is None:
            return None
        if tally.summary is None or tally.summary.count != tally.count:
            tally.summary = self._describe(fp, tally)
        return tally.summary

    def groups(self) -> tuple[ErrorGroup, ...]:
        """Running totals of all groups, most recently seen first."""
        built = [g for g in (self.group(fp) for fp in self._totals) if g is not None]
        return tuple(sorted(built, key=lambda g: g.last_seen, reverse=True))

    def _describe(self, fp: str, tally: _Tally) -> ErrorGroup:
        record = tally.latest
        if record is None:  # seeded from ``known`` and not seen since
            assert tally.summary is not None
            return replace(tally.summary, count=tally.count, first_seen=tally.first_seen,
                           last_seen=tally.last_seen)
        blocks = parse_traceback(record.traceback) if record.traceback else ()
        text = "\n".join(p for p in (record.message, record.traceback) if p)
        return ErrorGroup(fingerprint=fp, target=self.target,
                          title=self._redact(title_of(record, blocks)), kind=tally.kind,
                          count=tally.count, first_seen=tally.first_seen,
                          last_seen=tally.last_seen, sample=self._sample(text),
                          culprit=culprit_of(record, blocks))

    def _sample(self, text: str) -> Redacted:
        """Redact, then bound: keep the head and the (more telling) end of a traceback."""
        return self._redact(text).cut_middle(self._limit, self._limit // 4, "\n… [cut] …\n")
