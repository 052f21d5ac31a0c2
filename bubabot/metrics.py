"""Bubabot's own metrics, added to the watcher's ``/metrics``: its event-loop lag.

The engine's metrics are Discord-free (``remi_ops.metrics``); what only Bubabot knows is
registered from here. Named ``bubabot_`` because Bubabot is what they measure (a headless
``remi-ops watch`` has no such loop to report).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bubabot.looplag import LoopLagMonitor


class LoopLagCollector(Collector):
    """Reads the monitor at scrape time: two floats the loop replaces whole, safe to read
    from the HTTP thread."""

    def __init__(self, lag: LoopLagMonitor) -> None:
        self.lag = lag

    def collect(self) -> Iterator[Metric]:
        last, worst = self.lag.reading()
        yield GaugeMetricFamily(
            "bubabot_loop_lag_seconds", "How late Bubabot's own event loop woke up last "
            "(a blocked loop delays every alert and slash command)", value=last)
        yield GaugeMetricFamily(
            "bubabot_loop_lag_max_seconds", "The worst lag of Bubabot's event loop since "
            "it started", value=worst)
