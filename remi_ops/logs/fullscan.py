"""A whole log file read into error groups, on one core or on several.

The watcher reads Remi's logs incrementally (a check reads what was appended, in-process:
:mod:`remi_ops.watch.intake`). Reading a big log from its start is another job: it is
CPU-bound, so :func:`scan_file` can cut the file into ranges, each starting at a record's
header line, and parse them in worker processes at once. A record never spans two ranges,
so merging the ranges' groups is exact: counts add up, first/last seen are the earliest and
the latest, and title, sample and kind come from the group's last occurrence in the file
(the last range that saw it), as :class:`~remi_ops.logs.error_groups.ErrorAggregator` keeps
them in one pass. Blocking: call it from a thread or a process, never on an event loop.
"""

from __future__ import annotations

import itertools
import multiprocessing
import sys
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from io import BufferedReader
from pathlib import Path
from typing import BinaryIO

from remi_ops.domain import ErrorGroup
from remi_ops.logs.group_counts import GroupCounts
from remi_ops.logs.headers import clean_line, parse_header
from remi_ops.logs.lines import LineReader, may_have_long_line
from remi_ops.logs.parse import LogParser
from remi_ops.logs.redact import Redact
from remi_ops.logs.scan import scan_bytes

MB = 1024 * 1024
#: Below this size one process is faster than starting another.
PARALLEL_MIN_BYTES = 64 * MB
BLOCK_BYTES = 4 * MB
MAX_LINE_BYTES = 64 * 1024  # as the tailer cuts lines (remi_ops.logs.tail.DEFAULT_MAX_LINE)
_SPLIT_LOOKAHEAD = 4 * MB  # how far past a cut point a header line is looked for


@dataclass(frozen=True, slots=True)
class ScanSummary:
    """What a scan found: records other than INFO, and error groups.

    ``order`` is the groups' fingerprints in the order of their first occurrence (what
    breaks ties between groups last seen in the same second, as in one pass).
    """

    records: int = 0
    order: tuple[str, ...] = ()
    by_fingerprint: dict[str, ErrorGroup] = field(default_factory=dict)
    cpu_s: float = 0.0  # CPU seconds the parsing took, in all processes

    @property
    def groups(self) -> tuple[ErrorGroup, ...]:
        """The groups, most recently seen first (as ``ErrorAggregator.groups``)."""
        built = [self.by_fingerprint[fp] for fp in self.order]
        return tuple(sorted(built, key=lambda g: g.last_seen, reverse=True))


@dataclass(frozen=True, slots=True)
class ScanJob:
    """What to scan and how to read it; sent to the worker processes (so it pickles:
    ``redact`` must, as a :class:`~remi_ops.logs.redact.Redactor` does)."""

    path: Path
    target: str
    redact: Redact
    now: datetime  # dates records without a timestamp
    source: str = "stderr"
    tz: tzinfo = UTC  # the zone of the log's timestamps


def scan_file(job: ScanJob, *, workers: int = 1,
              min_parallel_bytes: int = PARALLEL_MIN_BYTES) -> ScanSummary:
    """Parse ``job.path`` from its start into error groups, with up to ``workers``
    processes (one when the file is smaller than ``min_parallel_bytes``).

    An unfinished last line (no newline yet) is left out, as the tailer leaves it for the
    next read.
    """
    size = job.path.stat().st_size
    cuts = split_points(job.path, size, workers) if size >= min_parallel_bytes else []
    bounds = [0, *cuts, size]
    ranges = list(itertools.pairwise(bounds))
    if len(ranges) == 1:
        return scan_range(job, 0, size)
    # the first range is parsed here while worker processes parse the others
    with ProcessPoolExecutor(max_workers=len(ranges) - 1, mp_context=_context()) as pool:
        later = [pool.submit(scan_range, job, a, b) for a, b in ranges[1:]]
        first = scan_range(job, *ranges[0])
        return merge([first, *(f.result() for f in later)])


def scan_range(job: ScanJob, start: int, end: int) -> ScanSummary:
    """Parse the bytes ``[start, end)`` of the file (``start`` at a line's start)."""
    cpu = time.process_time()
    parser = LogParser(source=job.source, tz=job.tz, keep_info=False)
    counts = parser.counts = GroupCounts(now=job.now)
    with open(job.path, "rb") as f:
        read_lines(f, start, end, parser)  # the records go to counts
    parser.flush()  # the last record ends where the range does
    counts.trim()
    groups = counts.groups(job.target, job.redact, parser.record_of)
    order = tuple(groups)
    return ScanSummary(counts.records, order, groups, time.process_time() - cpu)


def read_lines(f: BufferedReader, start: int, end: int, parser: LogParser) -> None:
    """Feed the complete lines of ``f``'s bytes ``[start, end)`` to ``parser`` in blocks.

    Each block is read from a line's start and parsed in place up to its last newline (the
    rest is read again with the next block), not joined to what the previous block left:
    a block is copied once, by the read. Once a block may hold a line too long to keep
    whole, a :class:`~remi_ops.logs.lines.LineReader` cuts the lines, as the tailer does.
    """
    counts = parser.counts
    assert counts is not None  # the records go to the counts, none come back
    buffer = bytearray(BLOCK_BYTES)
    view = memoryview(buffer)
    pos, reader = start, None
    while pos < end:
        f.seek(pos)
        n = _read_into(f, view[:min(BLOCK_BYTES, end - pos)])
        if n == 0:
            return
        if reader is None and not may_have_long_line(buffer, MAX_LINE_BYTES, n):
            last = buffer.rfind(b"\n", 0, n) + 1
            scan_bytes(parser, buffer, last)
            counts.trim()
            if last == 0 or pos + n == end:
                return  # an unfinished last line waits, as the tailer leaves it
            pos += last
            continue
        reader = reader or LineReader(MAX_LINE_BYTES)
        pos += n
        parser.feed_bytes(reader.feed(bytes(view[:n])))
        counts.trim()


def _read_into(f: BufferedReader, view: memoryview) -> int:
    """Fill ``view`` from ``f`` (fewer bytes only at the end of the file)."""
    got = 0
    while got < len(view) and (n := f.readinto(view[got:])):
        got += n
    return got


def merge(parts: Iterable[ScanSummary]) -> ScanSummary:
    """Ranges' summaries, in file order, as one pass over the whole file would give it."""
    records, order, cpu = 0, [], 0.0
    groups: dict[str, ErrorGroup] = {}
    for part in parts:
        records, cpu = records + part.records, cpu + part.cpu_s
        for fp in part.order:
            group = part.by_fingerprint[fp]
            old = groups.get(fp)
            if old is None:
                order.append(fp)
                groups[fp] = group
            else:
                groups[fp] = later_batch(old, group)
    return ScanSummary(records, tuple(order), groups, cpu)


def later_batch(old: ErrorGroup, new: ErrorGroup) -> ErrorGroup:
    """One group seen in two ranges: counts added, the later range's title and sample."""
    return replace(new, count=old.count + new.count,
                   first_seen=min(old.first_seen, new.first_seen),
                   last_seen=max(old.last_seen, new.last_seen))


def split_points(path: Path, size: int, workers: int) -> list[int]:
    """Up to ``workers - 1`` offsets near equal shares of the file, each the start of a
    record's header line (so no record is cut in two); fewer if none is found."""
    cuts: list[int] = []
    with open(path, "rb") as f:
        for i in range(1, max(1, workers)):
            offset = size * i // workers
            cut = header_at_or_after(f, offset) if offset > 0 else None
            if cut is not None and cut < size and (not cuts or cut > cuts[-1]):
                cuts.append(cut)
    return cuts


def header_at_or_after(f: BinaryIO, offset: int) -> int | None:
    """The offset of the first header line starting at or after ``offset`` (> 0)."""
    start = offset - 1  # the newline that ends the line before
    f.seek(start)
    data = f.read(_SPLIT_LOOKAHEAD)
    pos = data.find(b"\n") + 1
    while pos > 0:
        nl = data.find(b"\n", pos)
        if nl < 0:
            return None
        line = data[pos:nl]
        if len(line) < MAX_LINE_BYTES and parse_header(
                clean_line(line.decode("utf-8", "replace"))) is not None:
            return start + pos
        pos = nl + 1
    return None


def _context() -> multiprocessing.context.BaseContext:
    """How to start the workers. Fork is the cheapest (nothing to import), but safe only
    when this process runs no other thread (a thread could hold a lock at the fork) and
    not on macOS (its system libraries forbid it): then forkserver, whose server imports
    this module once for all workers, or spawn where there is no forkserver."""
    methods = multiprocessing.get_all_start_methods()
    if sys.platform == "linux" and threading.active_count() == 1 and "fork" in methods:
        return multiprocessing.get_context("fork")
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context
