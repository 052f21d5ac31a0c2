"""Log intake for one target: what Remi appended to its two logs, as parsed records.

Reading advances the tailers in memory only; the positions are written by the record step
at the end of a check, so a watcher that dies mid-check reads those lines again rather
than losing them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from remi_ops.config import TargetSettings
from remi_ops.domain import LogKind, LogRecord
from remi_ops.logs.parse import LogParser, gateway_state
from remi_ops.logs.tail import LogPosition, Tailer

log = logging.getLogger(__name__)
STREAMS = ("stderr", "stdout")
MAX_PENDING_RECORDS = 20_000
#: a record whose file has not been written for this long is complete
QUIET_S = 0.2


class LogIntake:
    """Tailers and parsers for stderr and stdout, and the records not yet checked."""

    def __init__(self, target: TargetSettings,
                 saved: Mapping[str, Mapping[str, Any] | None],
                 now_epoch: Callable[[], float]) -> None:
        self.name = target.name
        self._now_epoch = now_epoch
        self.tailers: dict[str, Tailer] = {}
        self.parsers: dict[str, LogParser] = {}
        for stream in STREAMS:
            path = target.stderr_log if stream == "stderr" else target.stdout_log
            doc = saved.get(stream)
            position = LogPosition.from_dict(dict(doc)) if doc else None
            self.tailers[stream] = Tailer(path, position,
                                          initial_read_bytes=target.health.initial_read_bytes)
            # Remi's own INFO lines are skipped undecoded; discord.py's are kept (gateway)
            self.parsers[stream] = LogParser(source=stream, keep_info=False)
        self.pending: list[LogRecord] = []
        self.gateway = ""

    def read(self) -> list[LogRecord]:
        """Read what was appended since the last read; parse it into records.

        A record still being written (a traceback mid-way) is held by the parser until a
        read finds nothing new, so it is never split in two.
        """
        fresh: list[LogRecord] = []
        for stream, tailer in self.tailers.items():
            chunk = tailer.read_new()
            parser = self.parsers[stream]
            if chunk.rotated or chunk.truncated:
                fresh.extend(parser.flush())
            if chunk.data:
                fresh.extend(parser.feed_bytes(chunk.data))
            if parser.pending and (not chunk.data or self._quiet(chunk.position.path)):
                fresh.extend(parser.flush())
        if fresh:
            self.gateway = gateway_state(fresh) or self.gateway
            self.pending.extend(fresh)
            if len(self.pending) > MAX_PENDING_RECORDS:
                dropped = len(self.pending) - MAX_PENDING_RECORDS
                log.warning("%s: %d log records since the last check; the oldest %d are "
                            "not counted", self.name, len(self.pending), dropped)
                del self.pending[:dropped]
        return fresh

    def read_settled(self) -> None:
        """Read, and once more if a record was held: a quiet second read ends it."""
        self.read()
        if any(p.pending for p in self.parsers.values()):
            self.read()

    def take(self) -> tuple[LogRecord, ...]:
        """The records since the last check; the next check starts from here."""
        records, self.pending = tuple(self.pending), []
        return records

    def forget_hangs(self) -> None:
        """The old process is gone: its "heartbeat blocked" lines say nothing about the new
        one (they would restart it again). Its errors still count toward error groups."""
        self.read_settled()  # its last record may still be held by the parser
        self.pending = [r for r in self.pending if r.kind is not LogKind.HANG]

    def positions(self) -> dict[str, dict[str, Any]]:
        """Where each stream has been read up to (persisted by the record step)."""
        found: dict[str, dict[str, Any]] = {}
        for stream, tailer in self.tailers.items():
            position = tailer.position
            if position is not None:
                found[stream] = position.to_dict()
        return found

    def _quiet(self, path: str) -> bool:
        """The log has not been written for a moment: a pending record is complete.

        logging writes a record's lines back to back, so a record still being written is
        microseconds old; one that is 0.2 s old is finished (a hang warning is usually the
        last thing a blocked bot writes, and must not wait for the next read).
        """
        try:
            mtime = Path(path).stat().st_mtime
        except OSError:
            return True
        return self._now_epoch() - mtime > QUIET_S
