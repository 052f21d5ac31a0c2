"""Delivery that survives outages: a durable outbox and per-sink retries.

The engine's notifications are written to SQLite in the same transaction as the engine's
state, one row per (notification, sink). ``pump`` then delivers due rows, oldest first
and strictly in order per message key (an edit never overtakes its post), with
exponential backoff and jitter per sink. A notifier that is down delays only its own rows.

Delivery contract, per sink:

* Every sink gets **at least once**: a row is marked delivered only after the sink
  returned, so a crash in between re-delivers that one notification on restart.
* ``FileSink`` (:mod:`~remi_ops.alerts.local_sinks`) is **exactly once**: before
  appending it looks for the notification id in the file's tail, so the re-delivery after
  a crash is a no-op.
* ``ConsoleSink`` cannot look back at what it printed: at least once.
* A Discord sink can reach exactly once by keeping the notification id in the message
  and checking the channel's recent messages on a retry without ``previous_ref``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from remi_ops.alerts.engine import AlertEngine
from remi_ops.alerts.journal import JournalReader
from remi_ops.alerts.model import EngineDelta, Notification
from remi_ops.alerts.quiet_commit import nothing_to_write
from remi_ops.clock import Clock
from remi_ops.config import AlertSettings
from remi_ops.exceptions import RemiOpsError
from remi_ops.store.database import Store
from remi_ops.store.outbox_rows import OutboxRows, Row

log = logging.getLogger(__name__)
T = TypeVar("T")
#: the outbox's own threads for its SQLite work: one per sink loop and one for commits is
#: more than it needs; two keep a slow commit from holding a delivery
DELIVERY_WORKERS = 2


class SinkUnavailable(RemiOpsError):
    """A sink cannot deliver right now (network down, 429); retry after ``retry_after``."""

    def __init__(self, detail: str = "", retry_after: float | None = None) -> None:
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(detail or "sink unavailable")


class Sink(Protocol):
    """Somewhere notifications go. ``deliver`` returns a reference (e.g. a message id)
    that is handed back as ``previous_ref`` for later notifications of the same message."""

    name: str

    async def deliver(self, n: Notification, previous_ref: str | None) -> str | None: ...


@dataclass(frozen=True, slots=True)
class PumpReport:
    """What one ``pump`` did; ``next_due_s`` is how long until something is worth a retry."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0
    next_due_s: float | None = None

    def __add__(self, other: PumpReport) -> PumpReport:
        dues = [d for d in (self.next_due_s, other.next_due_s) if d is not None]
        return PumpReport(self.delivered + other.delivered, self.failed + other.failed,
                          self.dead + other.dead, min(dues) if dues else None)


@dataclass(slots=True)
class _Backoff:
    failures: int = 0
    not_before: float = 0.0


class Outbox:
    """Durable queue between the alert engine and the sinks."""

    def __init__(self, store: Store, sinks: Sequence[Sink], clock: Clock, *,
                 settings: AlertSettings | None = None, deliver_timeout_s: float = 30.0,
                 dead_after: int = 10, rng: random.Random | None = None) -> None:
        names = [s.name for s in sinks]
        if len(set(names)) != len(names):
            raise ValueError(f"sink names must be unique: {names}")
        self.rows = OutboxRows(store)
        self.sinks = tuple(sinks)
        self.clock = clock
        self.settings = settings or AlertSettings()
        self.deliver_timeout_s = deliver_timeout_s
        self.dead_after = dead_after
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._sink_backoff = {name: _Backoff() for name in names}
        self._row_backoff: dict[int, _Backoff] = {}
        self.failures = dict.fromkeys(names, 0)  # failed delivery attempts (the metrics')
        self._backlog: list[Notification] = []
        self.journal = JournalReader(store)  # journaled events, each taken once
        #: sinks another process delivers (Bubabot's "discord" for a command line acting
        #: alone): their rows wait in the store until that process runs
        self.deferred_sinks: tuple[str, ...] = ()
        self._wake: dict[str, asyncio.Event] = {}
        # commits run one at a time: rows must land in flush order (a post before its edits)
        # and an older engine delta must never overwrite a newer one
        self._commit_lock = asyncio.Lock()
        #: the engine metadata last committed: a commit with nothing else to write and the
        #: same metadata writes nothing (``alerts.quiet_commit``)
        self._saved_meta: Mapping[str, Any] | None = None
        # the outbox's store work runs in threads of its own, not asyncio's shared default
        # pool: an operator's restart or a slow verb there never holds an alert back
        self._pool = ThreadPoolExecutor(DELIVERY_WORKERS, thread_name_prefix="remi-deliver")

    async def in_thread(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        """Release the delivery threads (rows not yet delivered stay in the store)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ enqueue

    def enqueue(self, notifications: Iterable[Notification],
                state: EngineDelta | None = None, journal_ids: Sequence[int] = ()) -> int:
        """Write rows for every sink, and the engine's state, in one transaction (blocking);
        the event-journal rows the engine took are forgotten in it too."""
        names = [s.name for s in self.sinks]
        names += [name for name in self.deferred_sinks if name not in names]
        return self.rows.insert(list(notifications), names, state, self.clock.now(),
                                journal_ids)

    async def commit(self, engine: AlertEngine) -> list[Notification]:
        """Hand the event journal to ``engine``, flush it and persist the result atomically;
        wake the delivery loops.

        If the store fails, the notifications are kept and written with the next commit
        (the engine's unsaved changes accumulate too), so nothing announced is lost.
        """
        async with self._commit_lock:
            # flushing thousands of alerts takes milliseconds: keep it off the event loop
            fresh, delta, journal_ids = await self.in_thread(self._flush, engine)
            batch = [*self._backlog, *fresh]
            if not nothing_to_write(batch, delta, journal_ids, self._saved_meta):
                try:
                    await self.in_thread(self.enqueue, batch, delta, journal_ids)
                except BaseException:
                    self._backlog = batch
                    raise
                self._saved_meta = delta.meta
            self._backlog = []
            self.journal.saved(journal_ids)
            engine.mark_saved(delta)
        self.wake()
        return fresh

    def _flush(self, engine: AlertEngine) -> tuple[list[Notification], EngineDelta, list[int]]:
        self.journal.take(engine)
        ids = self.journal.taken()
        return engine.flush(self.clock.now()), engine.delta(), ids

    async def keep_flushing(self, engine: AlertEngine, stop: asyncio.Event, *,
                            idle_s: float = 5.0) -> None:
        """Commit ``engine`` whenever its timers fall due, until ``stop`` is set.

        Checks commit after each observe too; both go through ``commit``, which runs one at
        a time, and the engine serialises its own calls, so checks may run in threads.
        """
        while not stop.is_set():
            now = self.clock.now()
            due = engine.next_due(now)
            if due is not None and due <= now:
                try:
                    await self.commit(engine)
                except Exception:
                    log.exception("outbox: saving alert notifications failed; will retry")
                # never spin: even if something is due again at once, breathe a little
                continue_in = self.settings.retry_initial_s if self._backlog else 0.01
            else:
                wait = idle_s if due is None else (due - now).total_seconds()
                continue_in = min(idle_s, max(wait, 0.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(continue_in, 0.01))

    # ------------------------------------------------------------------ delivery

    async def pump(self) -> PumpReport:
        """Deliver what is due now, all sinks concurrently; returns when every sink is done."""
        reports = await asyncio.gather(*(self._pump_sink(s) for s in self.sinks))
        total = PumpReport()
        for report in reports:
            total += report
        return total

    async def run(self, stop: asyncio.Event, idle_s: float = 5.0) -> None:
        """Deliver until ``stop`` is set; one loop per sink so a slow sink delays no other."""
        await asyncio.gather(*(self._run_sink(s, stop, idle_s) for s in self.sinks))

    def wake(self) -> None:
        """New rows are waiting: let the delivery loops look now (call on the loop thread)."""
        for event in self._wake.values():
            event.set()

    async def _run_sink(self, sink: Sink, stop: asyncio.Event, idle_s: float) -> None:
        wake = self._wake.setdefault(sink.name, asyncio.Event())
        while not stop.is_set():
            wake.clear()
            try:
                report = await self._pump_sink(sink)
            except Exception:
                log.exception("outbox: delivery loop for %s failed; retrying", sink.name)
                report = PumpReport(next_due_s=self.settings.retry_initial_s)
            timeout = min(idle_s, report.next_due_s if report.next_due_s is not None else idle_s)
            stopper = asyncio.ensure_future(stop.wait())
            waker = asyncio.ensure_future(wake.wait())
            await asyncio.wait({stopper, waker}, timeout=max(timeout, 0.0),
                               return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            waker.cancel()

    async def _pump_sink(self, sink: Sink) -> PumpReport:
        state = self._sink_backoff[sink.name]
        if self.clock.monotonic() < state.not_before:
            return PumpReport(next_due_s=state.not_before - self.clock.monotonic())
        counts = {"ok": 0, "sink_down": 0, "retry": 0, "dead": 0}
        blocked: set[str] = set()
        dues: list[float] = []
        after = 0
        while rows := await self.in_thread(self.rows.pending, sink.name, after):
            after = rows[-1].id
            for row in rows:
                if row.message_key in blocked:
                    continue
                wait = self._row_wait(row)
                if wait > 0:
                    blocked.add(row.message_key)
                    dues.append(wait)
                    continue
                outcome = await self._deliver(sink, row)
                counts[outcome] += 1
                self.failures[sink.name] += outcome != "ok"
                if outcome == "sink_down":
                    dues.append(state.not_before - self.clock.monotonic())
                    return self._report(counts, dues)
                if outcome != "ok":
                    blocked.add(row.message_key)  # an edit never overtakes its post
                if outcome == "retry":
                    dues.append(self._row_wait(row))
        return self._report(counts, dues)

    @staticmethod
    def _report(counts: Mapping[str, int], dues: Sequence[float]) -> PumpReport:
        return PumpReport(delivered=counts["ok"],
                          failed=counts["sink_down"] + counts["retry"] + counts["dead"],
                          dead=counts["dead"], next_due_s=min(dues) if dues else None)

    async def _deliver(self, sink: Sink, row: Row) -> str:
        """Deliver one row: "ok", "sink_down", "retry" or "dead"."""
        state = self._sink_backoff[sink.name]
        try:
            notification = Notification.from_dict(json.loads(row.payload))
            previous = await self.in_thread(self.rows.ref, sink.name, row.message_key)
            ref = await asyncio.wait_for(sink.deliver(notification, previous),
                                         self.deliver_timeout_s)
        except SinkUnavailable as exc:
            state.failures += 1
            delay = exc.retry_after if exc.retry_after is not None else self._backoff(
                state.failures)
            state.not_before = self.clock.monotonic() + max(delay, 0.0)
            log.warning("outbox: %s unavailable (%s); retrying in %.1fs", sink.name, exc, delay)
            await self.in_thread(self.rows.failed, row.id, str(exc), dead=False)
            return "sink_down"
        except Exception as exc:
            return await self._row_failed(sink, row, exc)
        state.failures = 0
        self._row_backoff.pop(row.id, None)
        await self.in_thread(self.rows.delivered, row, sink.name, ref, self.clock.now())
        return "ok"

    async def _row_failed(self, sink: Sink, row: Row, exc: Exception) -> str:
        # only errors count towards giving up; waiting out an outage never kills a row
        backoff = self._row_backoff.setdefault(row.id, _Backoff())
        attempts = backoff.failures = backoff.failures + 1
        is_dead = attempts >= self.dead_after
        log.warning("outbox: %s failed to deliver %s (attempt %d%s): %r", sink.name,
                    row.notification_id, attempts, ", giving up" if is_dead else "", exc)
        await self.in_thread(self.rows.failed, row.id, repr(exc), dead=is_dead)
        if is_dead:
            self._row_backoff.pop(row.id, None)
            return "dead"
        backoff.not_before = self.clock.monotonic() + self._backoff(attempts)
        return "retry"

    def _row_wait(self, row: Row) -> float:
        backoff = self._row_backoff.get(row.id)
        return 0.0 if backoff is None else backoff.not_before - self.clock.monotonic()

    def _backoff(self, failures: int) -> float:
        """Exponential with "equal jitter": half fixed, half random, capped at retry_max_s."""
        cap = min(self.settings.retry_max_s,
                  self.settings.retry_initial_s * 2.0 ** min(failures - 1, 32))
        return cap / 2 + self._rng.uniform(0, cap / 2)

    # ------------------------------------------------------------------ upkeep

    def backlog(self) -> dict[str, int]:
        """Undelivered rows per sink: the alerter's own health, worth showing in /status."""
        return self.rows.backlog([s.name for s in self.sinks])

    def prune(self, before: datetime) -> int:
        """Drop delivered and dead rows older than ``before`` (blocking; run daily)."""
        return self.rows.prune(before)
