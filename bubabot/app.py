"""Wiring: settings → Watcher, Discord client, slash commands, sink, the 60-s schedule.

The scheduler only wires: each job calls one Watcher method off the loop. Deaths are not
polled (the exit waiter reacts within a second); the scheduled check is for what a poll is
good for — logs, thresholds, the beacon, a moved git HEAD.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bubabot.access import AccessPolicy
from bubabot.alertmanager_front import AlertmanagerFront, build_front
from bubabot.bot import Bubabot
from bubabot.link import DiscordLink
from bubabot.looplag import LoopLagMonitor
from bubabot.sink import DiscordSink
from bubabot.watcher_service import WatcherService
from remi_ops.config import Settings
from remi_ops.exceptions import ConfigError
from remi_ops.watch.longlived import freeze_start_up_objects, thaw
from remi_ops.watch.watcher import Watcher

log = logging.getLogger(__name__)
#: at shutdown, how long undelivered notifications may wait on Discord (they are kept)
SETTLE_TIMEOUT_S = 5.0
MISFIRE_GRACE_S = 30


@dataclass
class App:
    """One running Bubabot: watcher, client, scheduler. ``close`` undoes ``start``."""

    settings: Settings
    watcher: Watcher
    bot: Bubabot
    lag: LoopLagMonitor
    scheduler: AsyncIOScheduler
    link: DiscordLink
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    #: ``[alertmanager] listen``: the webhook receiver and its delivery (None when off)
    alertmanager: AlertmanagerFront | None = None

    async def run_check(self, target: str) -> None:
        """The scheduled job: one check of one target, off the loop (then the dead-man ping)."""
        await self.watcher.scheduled_check(target)

    def on_job_event(self, event: JobExecutionEvent) -> None:
        """A job error or a missed run becomes an alert, not a silent log line."""
        name = f"{event.job_id}"
        if event.exception is not None:
            self.watcher.job_failed(name, event.exception)
        else:
            log.warning("scheduled job %s missed its run time", name)

    def schedule(self) -> None:
        interval = self.settings.watchdog.check_interval_s
        for name in self.watcher.watches:
            self.scheduler.add_job(self.run_check, "interval", args=[name], id=f"{name}: check",
                                   seconds=interval, coalesce=True, max_instances=1,
                                   misfire_grace_time=MISFIRE_GRACE_S,
                                   next_run_time=datetime.now(UTC))
        self.scheduler.add_listener(self.on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        # APScheduler says "Running job" and "executed successfully" at INFO for every
        # check: two lines a minute that say nothing (errors and misses still come here)
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        self.scheduler.start()

    async def start(self, token: str) -> None:
        """Take the locks, adopt or start Remi, then run everything in the background.

        Discord is not waited for: supervision starts first, and the link logs in and
        connects with retries while alerts wait in the outbox (see ``bubabot.link``).
        """
        await asyncio.to_thread(self.watcher.acquire_locks)  # may wait out a look at a lock
        self.lag.start()
        await self.watcher.start()
        # before Discord is connected, so the one collection costs no heartbeat
        frozen = freeze_start_up_objects()
        log.debug("%d objects alive after start-up kept out of full collections", frozen)
        for job in self.watcher.background(self.stopping, with_checks=False):
            self.tasks.append(asyncio.create_task(job))
        self.schedule()
        if self.alertmanager is not None:
            await self.alertmanager.start()
            self.tasks.append(self.alertmanager.background(self.stopping))
        self.link.attach()
        self.tasks.append(asyncio.create_task(self.link.run(token), name="discord link"))

    async def close(self) -> None:
        self.stopping.set()
        if self.alertmanager is not None:
            await self.alertmanager.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        with contextlib.suppress(Exception):
            await self.watcher.settle(timeout_s=SETTLE_TIMEOUT_S)
        await self.bot.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.link.detach()
        await self.lag.stop()
        self.watcher.close()
        thaw()


def build_app(settings: Settings, *, console: TextIO | None = None,
              client_options: dict[str, Any] | None = None,
              on_ready: Callable[[Bubabot], Awaitable[None]] | None = None) -> App:
    """Construct (nothing runs yet). The Discord sink posts to ``[discord] alert_channel_id``."""
    lag = LoopLagMonitor()
    service = WatcherService(lag)
    bot = Bubabot(service, settings.discord,
                  AccessPolicy.from_settings(settings.discord),
                  sync_state_path=settings.state_dir / "command_sync.json",
                  on_ready_hook=on_ready, **(client_options or {}))
    sink = DiscordSink(bot, settings.discord.alert_channel_id, settings.discord.oncall_role_id)
    watcher = Watcher(settings, extra_sinks=[sink], console=console)
    sink.resolve_replies_with(functools.partial(watcher.outbox.rows.ref, sink.name))
    service.bind(watcher)
    try:
        front = build_front(settings, watcher.store, watcher.clock, bot, os.environ)
    except ConfigError:
        watcher.close()  # nothing started yet; the store is closed again
        raise
    return App(settings, watcher, bot, lag, AsyncIOScheduler(timezone=UTC), DiscordLink(bot),
               alertmanager=front)
