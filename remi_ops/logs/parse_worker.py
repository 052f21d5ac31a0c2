"""Big log reads parsed in a worker process, off the GIL of the watcher's process.

A read of megabytes (the first attach, a flood of errors) takes tens of milliseconds of
parsing, most of it in C calls (decode, regex searches, splits) that hold the GIL; in
Bubabot's process that is time its event loop, with discord.py's heartbeat on it, can
wait for. :mod:`remi_ops.logs.slices` bounds each wait to one slice; this module takes
the work out of the process altogether: one worker process (started on the first big
read, spawned so it shares nothing with the watcher's threads) parses every read of at
least :data:`BIG_READ_BYTES`; the parent only sends the bytes down a pipe and unpickles
the few records that come back (about 125 per MB of a noisy log, under a millisecond).

An ordinary incremental read (a few KB between checks) stays in-process: a round trip
to the worker would cost more than parsing it.

The records are the very records an in-process parse gives: every read handed here is
a whole batch (the caller's parser is flushed after it), so a fresh parser in the worker
starts where the caller's would. A worker that cannot start or that died (killed, out of
memory) costs nothing: the read is parsed in-process with a warning, and the next big
read starts a new worker. A worker with no big read for :data:`RETIRE_AFTER_S` ends
(about 30 MB of RSS given back; a big read is rare: the first attach, a flood), and
``close`` (the watcher's) ends it at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import tzinfo
from typing import TYPE_CHECKING

from remi_ops.domain import LogRecord
from remi_ops.logs.parse import LogParser
from remi_ops.logs.slices import feed_in_slices

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger(__name__)

#: reads at least this big go to the worker; smaller ones are parsed in-process
BIG_READ_BYTES = 1024 * 1024
#: a parse of 16 MB takes well under a second; a worker silent this long is stuck
RESULT_TIMEOUT_S = 60.0
#: a worker with no big read for this long ends; the next big read spawns one (~0.2 s)
RETIRE_AFTER_S = 300.0

#: in the worker: one parser per stream, kept for its caches (traceback bodies, timestamps)
_parsers: dict[tuple[str, bool, tzinfo], LogParser] = {}


def parse_batch(source: str, keep_info: bool, tz: tzinfo, data: bytes) -> list[LogRecord]:
    """In the worker: ``data``'s records, as ``feed_bytes`` then ``flush`` give them."""
    key = (source, keep_info, tz)
    parser = _parsers.get(key)
    if parser is None:
        parser = _parsers[key] = LogParser(source=source, tz=tz, keep_info=keep_info)
    return parser.feed_bytes(data) + parser.flush()


class ParseWorker:
    """One worker process for big reads, shared by every target of a watcher."""

    def __init__(self, big_read_bytes: int = BIG_READ_BYTES,
                 retire_after_s: float = RETIRE_AFTER_S) -> None:
        self.big_read_bytes = big_read_bytes
        self.retire_after_s = retire_after_s
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._busy = 0  # reads in the worker now (a retiring worker waits for none)
        self._used_mono = 0.0
        self._retire: threading.Timer | None = None
        #: reads the worker parsed (the rest were small, or parsed here after a failure)
        self.reads_in_worker = 0

    def parse(self, parser: LogParser, data: bytes) -> list[LogRecord]:
        """``data``'s records and ``parser`` flushed: in the worker when ``data`` is big.

        ``data`` must be a whole batch: whole lines, and ``parser`` holding no pending
        record (it was flushed after its last batch), as :class:`LogIntake` reads do.
        """
        if len(data) >= self.big_read_bytes:
            records = self._in_worker(parser, data)
            if records is not None:
                self.reads_in_worker += 1
                parser.flush()  # nothing pending; resets its line state, as in-process
                return records
        return feed_in_slices(parser, data) + parser.flush()

    def _in_worker(self, parser: LogParser, data: bytes) -> list[LogRecord] | None:
        """The worker's records, or None (parse in-process) when it failed."""
        try:
            pool = self._worker()
        except _Closed:
            return None
        try:
            future = pool.submit(parse_batch, parser.source, parser.keep_info, parser.tz,
                                 data)
            return future.result(timeout=RESULT_TIMEOUT_S)
        except (OSError, TimeoutError, RuntimeError) as e:  # BrokenProcessPool is a RuntimeError
            log.warning("the log-parsing worker process failed (%s); this read of %d bytes "
                        "is parsed in the watcher's process, a new worker starts with the "
                        "next big read", _describe(e), len(data))
            self._discard(pool)
            return None
        finally:
            self._done()

    def _worker(self) -> ProcessPoolExecutor:
        """The pool, started if need be; the caller must call ``_done`` after its read."""
        with self._lock:
            if self._closed:
                raise _Closed
            self._busy += 1
            if self._pool is None:
                # on the first big read: a watcher that never has one never loads
                # multiprocessing and pickle (tests/remi_ops/test_watch_footprint.py)
                import multiprocessing  # noqa: PLC0415 - lazily, see above
                from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415 - idem
                # spawned, not forked: a fork of a process with threads (discord.py's,
                # the pools') may copy a lock some thread held at that moment
                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            return self._pool

    def _done(self) -> None:
        """A read is over: the worker retires if no other comes within ``retire_after_s``."""
        with self._lock:
            self._busy -= 1
            self._used_mono = time.monotonic()
            if self._retire is not None:
                self._retire.cancel()
            if self._pool is not None and not self._closed:
                self._retire = threading.Timer(self.retire_after_s, self._retire_if_idle)
                self._retire.daemon = True
                self._retire.start()

    def _retire_if_idle(self) -> None:
        with self._lock:
            # a read since this timer was armed (its own timer is the one to act)
            if self._busy or time.monotonic() - self._used_mono < 0.9 * self.retire_after_s:
                return
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        """Forget a failed pool (not one another thread started since)."""
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def pid(self) -> int | None:
        """The worker's pid (it starts one if none runs); None once closed."""
        try:
            pool = self._worker()
        except _Closed:
            return None
        try:
            return pool.submit(os.getpid).result(timeout=RESULT_TIMEOUT_S)
        finally:
            self._done()

    def close(self) -> None:
        """End the worker (waits for the read it is parsing, if any)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
            if self._retire is not None:
                self._retire.cancel()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class _Closed(Exception):
    """The watcher is closing: no new worker."""


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
