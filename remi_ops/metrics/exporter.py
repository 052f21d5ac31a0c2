"""``WatcherMetrics``: the registry, the latest snapshot and the ``/metrics`` server of one
watcher (the headless ``remi-ops watch`` or Bubabot).

Why snapshots rather than Gauges set where things happen: the facts live in several
places (the supervisor, the last report, the alert engine, the outbox, the store), most
of them changed in check threads; one reading taken on the watcher's schedule and swapped
in whole keeps the HTTP thread away from all of them, keeps every metric of a scrape from
the same moment, and needs no hooks in the check. Its age is the watcher's heartbeat.

Others add collectors of their own (Bubabot: its event-loop lag) with ``register``; the
engine stays Discord-free.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from remi_ops.metrics.snapshot import Snapshot, Watched, take_snapshot

if TYPE_CHECKING:  # prometheus_client is imported by a watcher that uses it only (RSS)
    from prometheus_client import CollectorRegistry
    from prometheus_client.registry import Collector

    from remi_ops.metrics.server import MetricsServer

log = logging.getLogger(__name__)
#: how often the watcher refreshes the snapshot (Prometheus scrapes every 15 s or more)
REFRESH_INTERVAL_S = 2.0


class WatcherMetrics:
    """What one watcher exposes; serving starts with ``start`` and ends with ``stop``."""

    def __init__(self, watched: Watched, listen: str) -> None:
        self.watched = watched
        self.listen = listen
        self._registry: CollectorRegistry | None = None
        self.server: MetricsServer | None = None
        self._lock = threading.Lock()
        self._latest: Snapshot | None = None
        self._failing = False

    @property
    def registry(self) -> CollectorRegistry:
        """Made on first use, so a watcher that serves no metrics never imports
        prometheus_client (its share of the RSS goal)."""
        if self._registry is None:
            from prometheus_client import (  # noqa: PLC0415 - lazily, see above
                CollectorRegistry,
                ProcessCollector,
            )

            from remi_ops.metrics.collector import WatcherCollector  # noqa: PLC0415 - same

            registry = CollectorRegistry()
            registry.register(WatcherCollector(self.latest))
            ProcessCollector(registry=registry)  # the watcher's own cpu, memory, start
            self._registry = registry
        return self._registry

    @property
    def enabled(self) -> bool:
        return bool(self.listen)

    def register(self, collector: Collector) -> None:
        """Add metrics of the embedding program (read at scrape time, in the HTTP thread:
        the collector must only read values that are safe to read from there)."""
        self.registry.register(collector)

    def latest(self) -> Snapshot | None:
        with self._lock:
            return self._latest

    async def start(self) -> None:
        """Listen (when ``listen`` is set) with a first snapshot ready; ``ConfigError``
        naming ``metrics.listen`` when the address cannot be used."""
        if not self.enabled or self.server is not None:
            return
        from remi_ops.metrics.server import MetricsServer  # noqa: PLC0415 - lazily, as above

        await self.refresh()
        self.server = await asyncio.to_thread(MetricsServer.start, self.registry, self.listen)

    async def refresh(self) -> None:
        """Take a snapshot off the loop and publish it (the loop's heartbeat for scrapes).

        When it cannot be taken (a state database that fails), the last one stays
        published, its heartbeat ageing for the rule that watches it; said once, not every
        two seconds.
        """
        failures = dict(self.watched.outbox.failures)  # the outbox counts on the loop
        try:
            snapshot = await asyncio.to_thread(take_snapshot, self.watched, failures)
        except Exception as exc:  # the watcher goes on; the metrics show their age
            if not self._failing:
                log.warning("metrics: cannot refresh (%s: %s); serving the last values",
                            type(exc).__name__, exc)
            self._failing = True
            return
        if self._failing:
            log.info("metrics: refreshing again")
        self._failing = False
        with self._lock:
            self._latest = snapshot

    def stop(self) -> None:
        """Free the port (blocking for at most a scrape in progress)."""
        server, self.server = self.server, None
        if server is not None:
            server.stop()
