"""Log intake for one target: what Remi appended to its logs, as parsed records.

Every log Remi writes is a stream: ``stderr`` and ``stdout`` (the files its fds 2 and 1
point to) and one ``log:<path>`` per file of the target's ``logs`` (a ``FileHandler`` of
its own, like discord.py's ``discord.log``).

Each read hands its records and the positions they were read up to to the ``keep``
callback (the watch stores both in one transaction), so a watcher killed at any moment
neither loses nor double-counts a record. The record still being written is held back
(its bytes are not parsed, and the saved position stays before them) until it is
finished: see :mod:`remi_ops.logs.holdback`.

The watcher that holds the target's lock (``rotating``) also rotates each log past
``[targets.logs] max_bytes`` right after reading it to its end, and reads what came in
between from the copy (:mod:`remi_ops.logs.rotate`); a bystander (``remi-ops health``
with no watcher, one command-line verb) only reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from remi_ops.config import TargetSettings
from remi_ops.domain import LogKind, LogRecord
from remi_ops.logs.holdback import is_finished, last_record_start
from remi_ops.logs.parse import LogParser, gateway_state
from remi_ops.logs.parse_worker import ParseWorker
from remi_ops.logs.rotate import LogRotation
from remi_ops.logs.slices import feed_in_slices
from remi_ops.logs.tail import CUT_MARKER, LogPosition, TailChunk, Tailer

log = logging.getLogger(__name__)
STREAMS = ("stderr", "stdout")
MAX_PENDING_RECORDS = 20_000
#: where a read's records go with the positions they were read up to
Keep = Callable[[Sequence[LogRecord], Mapping[str, Mapping[str, Any]]], None]
#: which file Remi's stdout/stderr really is now (``{"stderr": path}``), when known
Follow = Callable[[], Mapping[str, Path]]


def log_streams(target: TargetSettings) -> dict[str, Path]:
    """Every log of ``target`` by stream name; a log listed twice is read once."""
    streams = {"stderr": target.stderr_log, "stdout": target.stdout_log}
    seen = set(streams.values())
    for path in target.logs.files:
        if path not in seen:
            seen.add(path)
            streams[stream_name(target, path)] = path
    return streams


def stream_name(target: TargetSettings, path: Path) -> str:
    """``log:discord.log`` (relative to the workdir when it lies inside it)."""
    try:
        return f"log:{path.relative_to(target.workdir)}"
    except ValueError:
        return f"log:{path}"


class LogIntake:
    """Tailers and parsers for every log, and the records not yet checked."""

    def __init__(self, target: TargetSettings,
                 saved: Mapping[str, Mapping[str, Any] | None],
                 now_epoch: Callable[[], float], *, keep: Keep | None = None,
                 follow: Follow | None = None) -> None:
        self.name = target.name
        self._now_epoch = now_epoch
        self._keep = keep
        self._follow = follow
        self.tailers: dict[str, Tailer] = {}
        self.parsers: dict[str, LogParser] = {}
        self._held: dict[str, bytes] = {}
        self._grew: dict[str, float] = {}
        for stream, path in log_streams(target).items():
            doc = saved.get(stream)
            position = LogPosition.from_dict(dict(doc)) if doc else None
            self.tailers[stream] = Tailer(path, position,
                                          initial_read_bytes=target.health.initial_read_bytes)
            # Remi's own INFO lines are skipped undecoded; discord.py's are kept (gateway)
            self.parsers[stream] = LogParser(source=stream, keep_info=False)
        self._kept = self.positions()
        self._rotation = LogRotation(target.name, target.logs)
        #: rotate logs past ``max_bytes`` (only the watcher holding the target's lock)
        self.rotating = False
        #: where big reads are parsed (the supervising watcher's worker process); None:
        #: in this process, in slices
        self.worker: ParseWorker | None = None
        self._unsaved: list[LogRecord] = []
        self.pending: list[LogRecord] = []
        self.gateway = ""

    @property
    def streams(self) -> tuple[str, ...]:
        return tuple(self.tailers)

    def read(self) -> list[LogRecord]:
        """Read what was appended since the last read; parse the finished records.

        The records and the positions they were read up to go to ``keep`` together.
        """
        follow: Mapping[str, Path] | None = None  # asked of the process only when needed
        fresh: list[LogRecord] = []
        for stream, tailer in self.tailers.items():
            chunk = tailer.nothing_new()  # one look (a gate's question, or a ``stat``)
            if chunk is None:
                if follow is None:
                    follow = self._follow() if self._follow else {}
                tailer.follow = follow.get(stream)
                chunk = tailer.read_new()
            fresh.extend(self._parse(stream, chunk))
            if self.rotating and self._rotation.due(tailer, chunk):
                rest = self._rotation.rotate_after_read(tailer)
                if rest is not None:
                    fresh.extend(self._parse(stream, rest))
        if fresh:
            self.gateway = gateway_state(fresh) or self.gateway
            self.pending.extend(fresh)
            if len(self.pending) > MAX_PENDING_RECORDS:
                dropped = len(self.pending) - MAX_PENDING_RECORDS
                log.warning("%d log records since the last check; the oldest %d are not "
                            "assessed (their error groups are counted)",
                            len(self.pending), dropped, extra={"target": self.name})
                del self.pending[:dropped]
        self._hand_over(fresh)
        return fresh

    def _hand_over(self, fresh: list[LogRecord]) -> None:
        """Give ``keep`` the records and positions; if it fails (a full disk), they wait
        for the next read rather than being lost (the error goes to the caller)."""
        positions = self.positions()
        batch = self._unsaved + fresh
        if self._keep is None or not (batch or positions != self._kept):
            return
        self._unsaved = batch
        self._keep(batch, positions)
        self._unsaved, self._kept = [], positions

    def _parse(self, stream: str, chunk: TailChunk) -> list[LogRecord]:
        parser, now = self.parsers[stream], self._now_epoch()
        if chunk.data or stream not in self._grew:
            self._grew[stream] = now
        data = self._held.pop(stream, b"") + chunk.data
        if chunk.rotated or chunk.truncated or chunk.more:
            # the held record's file is gone, or a flood: it is finished (a cut line's
            # bytes are not the file's, so it is never held: its position would be wrong)
            body = data
        else:
            start = last_record_start(data)
            tail = data[start:]
            if CUT_MARKER in tail or is_finished(tail, idle_s=now - self._grew[stream]):
                body = data
            else:
                body, self._held[stream] = data[:start], data[start:]
        if not body:
            return []
        if self.worker is not None:  # a big read in the worker process (logs.parse_worker)
            return self.worker.parse(parser, body)
        # in slices: a 16-MB parse must not hold the GIL from the loop (logs.slices)
        return feed_in_slices(parser, body) + parser.flush()

    def take(self) -> tuple[LogRecord, ...]:
        """The records since the last check; the next check starts from here."""
        records, self.pending = tuple(self.pending), []
        return records

    def forget_hangs(self) -> None:
        """The old process is gone: its "heartbeat blocked" lines say nothing about the new
        one (they would restart it again). Its errors still count toward error groups."""
        self.read()
        self.pending = [r for r in self.pending if r.kind is not LogKind.HANG]

    def positions(self) -> dict[str, dict[str, Any]]:
        """Where each stream has been read up to: before a held record, whose bytes are
        read again by a watcher that starts from here."""
        found: dict[str, dict[str, Any]] = {}
        for stream, tailer in self.tailers.items():
            position = tailer.position
            if position is None:
                continue
            held = len(self._held.get(stream, b""))
            if held:
                position = replace(position, offset=max(0, position.offset - held),
                                   skipping=False)
            found[stream] = position.to_dict()
        return found
