"""Assembly: settings → store, alert hub, outbox, one ``TargetWatch`` per target.

Shared by the headless ``remi-ops watch`` and by Bubabot, which adds its Discord sink and
drives the periodic check from APScheduler instead of ``periodic``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, TextIO

from remi_ops import host
from remi_ops.alerts.hub import AlertHub
from remi_ops.alerts.local_sinks import ConsoleSink, FileSink
from remi_ops.alerts.outbox import Outbox, Sink
from remi_ops.clock import Clock, SystemClock
from remi_ops.config import Settings
from remi_ops.domain import CheckTrigger, Event, EventKind, HealthReport, Severity
from remi_ops.exceptions import UnknownTarget
from remi_ops.host.exitwatch import ExitWatch
from remi_ops.host.proctable import share_for
from remi_ops.logs.parse_worker import ParseWorker
from remi_ops.logs.redact import Redactor
from remi_ops.metrics.exporter import REFRESH_INTERVAL_S, WatcherMetrics
from remi_ops.store.database import Store
from remi_ops.store.filesafety import prepare_state_dir
from remi_ops.watch.alertcommit import commit_when_due
from remi_ops.watch.deadman import DeadmanPing
from remi_ops.watch.executors import Executors
from remi_ops.watch.fileevents import FileEvents
from remi_ops.watch.filegate import gate_logs, gate_observer
from remi_ops.watch.loops import on_change, periodic
from remi_ops.watch.record import JournaledNotifier, let_go_of_health_files
from remi_ops.watch.schedule import Schedule
from remi_ops.watch.serve import serve_requests
from remi_ops.watch.spool import ensure_spool, spool
from remi_ops.watch.target import TargetWatch

log = logging.getLogger(__name__)
STORE_NAME = "bubabot.sqlite3"
#: the files the command line leaves in the spool (``remi_ops.watch.spool.submit``)
REQUEST_SUFFIX = ".request.json"
PRUNE_INTERVAL_S = 3600.0
OUTBOX_KEEP_S = 7 * 86400.0
#: the delivery loops are woken by every commit and sleep until a retry is due; this is
#: only their safety look (it was 5 s)
OUTBOX_IDLE_S = 30.0


class Watcher:
    """Everything the watcher runs, wired once; ``close`` releases it all."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None,
                 extra_sinks: Sequence[Sink] = (), console: TextIO | None = sys.stdout,
                 environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        prepare_state_dir(settings)  # 0700 when new; a warning when it or a workdir is shared
        self.store = Store.open(settings.state_dir / STORE_NAME, self.clock)
        sinks: list[Sink] = [FileSink({t.name: t.alert_file for t in settings.targets},
                                      workdirs={t.name: t.workdir for t in settings.targets})]
        if console is not None:
            sinks.append(ConsoleSink(console))
        sinks.extend(extra_sinks)
        self.outbox = Outbox(self.store, sinks, self.clock, settings=settings.alerts)
        self.hub = AlertHub.load(settings.alerts, self.outbox, self.store, self.clock)
        self.watches = {t.name: TargetWatch(settings, t, store=self.store, clock=self.clock,
                                            notifier=JournaledNotifier(self.hub),
                                            environ=environ)
                        for t in settings.targets}
        self.deadman = DeadmanPing(settings.watchdog.heartbeat_url,
                                   settings.watchdog.heartbeat_timeout_s,
                                   redact=Redactor(s for w in self.watches.values()
                                                   for s in w.redact.secrets))
        self.locks: list[host.TargetLock] = []
        #: ``[metrics] listen``: served from ``start`` to ``close`` (Bubabot adds collectors)
        self.metrics = WatcherMetrics(self, settings.metrics.listen)
        #: the pools checks run in, and the one waiter for every target's death
        self.executors = Executors(len(self.watches))
        self.exits = ExitWatch(clock=self.clock)
        share_for(settings.watchdog.check_interval_s)  # one process-table pass per ¼ interval
        #: file changes (logs, beacons, the spool) that wake the probes and the requests
        self.files = FileEvents()
        #: every target's timed work, once ``background`` made it
        self.schedule: Schedule | None = None
        #: the process big log reads are parsed in, off this process's GIL (supervising)
        self.parsing = ParseWorker()
        #: True once ``start`` ran: this process supervises (a check may act); a command
        #: line assembling a Watcher for one verb only looks
        self.supervising = False

    def watch(self, name: str | None) -> TargetWatch:
        if name is None:
            return next(iter(self.watches.values()))
        try:
            return self.watches[name]
        except KeyError:
            raise UnknownTarget(name, list(self.watches)) from None

    def acquire_locks(self, names: Iterable[str] | None = None) -> None:
        """One watcher per target: a second Bubabot or ``remi-ops watch`` gets ``LockHeld``,
        and a watcher of another Remi with the same name and ``state_dir`` ``StateShared``.

        ``names`` (default: every target) lets the command line lock just the target it
        acts on; the locks are released by ``close``.
        """
        taken: list[host.TargetLock] = []
        try:
            for name in self.watches if names is None else names:
                target = self.watch(name).target
                taken.append(host.TargetLock(target).acquire())
                if names is None:  # a watcher, not a verb: it owns the outbox and the spool
                    taken.append(host.StateLock(self.settings.state_dir, target).acquire())
        except BaseException:
            for lock in taken:  # all or nothing: a refused start holds no lock
                lock.release()
            raise
        self.locks += taken

    async def start(self) -> None:
        """Serve the metrics (a port in use refuses the start), then adopt or start every
        target (off the loop)."""
        await self.metrics.start()
        await asyncio.to_thread(ensure_spool, self.settings.state_dir)  # watched from now
        self.supervising = True
        for watch in self.watches.values():
            watch.intake.worker = self.parsing
        for watch in self.watches.values():
            await self.executors.check(watch.name, watch.startup)
        self.deadman.started()
        await self.hub.commit()

    def background(self, stopping: asyncio.Event, *,
                   with_checks: bool = True) -> list[Coroutine[Any, Any, None]]:
        """The long-running coroutines: deaths, due actions, probes, delivery (and checks)."""
        jobs: list[Coroutine[Any, Any, None]] = [
            self.outbox.run(stopping, idle_s=OUTBOX_IDLE_S),
            commit_when_due(self.hub, stopping),
            on_change(self.files.for_folder(spool(self.settings.state_dir), REQUEST_SUFFIX),
                      stopping, self.serve_requests, "operator requests"),
            periodic(PRUNE_INTERVAL_S, stopping, self.prune_outbox, "outbox prune"),
            self.deadman.run(stopping), self.files.run(stopping)]
        if self.metrics.enabled:
            jobs.append(periodic(REFRESH_INTERVAL_S, stopping, self.metrics.refresh, "metrics"))
        for watch in self.watches.values():
            gate_logs(self.files, watch.intake)  # a check stats a log after an event only
            gate_observer(self.files, watch.observer)  # the beacon, ``.git``: likewise
        # every target's checks, probes, due actions and deaths: one scheduler
        self.schedule = Schedule(self.watches.values(), self.executors, self.exits,
                                 self.files, interval_s=self.settings.watchdog.check_interval_s,
                                 job_failed=self.job_failed, checked=self._checked)
        jobs.append(self.schedule.run(stopping, with_checks=with_checks))
        return jobs

    def _checked(self) -> None:
        self.deadman.checked(w.last_report for w in self.watches.values())

    async def check(self, name: str, trigger: CheckTrigger) -> HealthReport:
        """One check of ``name`` in its lane of the checks pool."""
        watch = self.watch(name)
        return await self.executors.check(watch.name, watch.check, trigger)

    async def scheduled_check(self, name: str) -> None:
        """One scheduled check of one target (in its lane; Bubabot's schedule and the
        headless loop both), then the dead-man ping says how every target is
        (``remi_ops.watch.deadman``; it never waits on the ping)."""
        await self.check(name, CheckTrigger.SCHEDULE)
        self._checked()

    def job_failed(self, name: str, exc: BaseException) -> None:
        """A job error becomes an alert instead of a silent log line."""
        target = name.split(":", 1)[0] if ":" in name else next(iter(self.watches))
        self.hub.event(Event(target, EventKind.JOB_ERROR, self.clock.now(), Severity.WARNING,
                             f"{name} failed: {type(exc).__name__}: {exc}"[:500]))

    async def prune_outbox(self) -> None:
        """Forget delivered notifications after a week (message refs for edits are kept)."""
        before = self.clock.now() - timedelta(seconds=OUTBOX_KEEP_S)
        pruned = await asyncio.to_thread(self.outbox.prune, before)
        if pruned:
            log.info("outbox: pruned %d delivered notifications", pruned)

    async def serve_requests(self) -> None:
        """Carry out what the command line asked this watcher (``remi_ops.watch.serve``)."""
        await serve_requests(self)

    async def settle(self, timeout_s: float | None = None) -> None:
        """Hand what happened to the alert engine and deliver what is due now (a sink that
        is down keeps its rows for next time; ``timeout_s`` bounds the wait on it)."""
        await self.hub.commit()
        await asyncio.wait_for(self.outbox.pump(), timeout_s)

    async def run(self, stopping: asyncio.Event) -> None:
        """The headless watchdog until ``stopping`` is set."""
        await self.start()
        tasks = [asyncio.create_task(job) for job in self.background(stopping)]
        try:
            await stopping.wait()
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.settle()

    def close(self) -> None:
        self.metrics.stop()
        held = [lock.target for lock in self.locks]
        for lock in self.locks:
            lock.release()
        self.locks.clear()
        self.store.close()
        self.exits.close()
        self.executors.close()
        let_go_of_health_files(self.settings, held)  # the exchange's spare goes at a stop
        self.outbox.close()
        self.parsing.close()
        for watch in self.watches.values():  # a manager holding a connection (Kubernetes)
            close = getattr(watch.manager, "close", None)
            if close is not None:
                close()
        host.reap_exited_children()
