"""The published snapshot as Prometheus metric families (every name and help text here).

Naming follows Prometheus: a ``remi_ops_`` prefix, base units (seconds, unix timestamps
in seconds), ``_total`` on counters, one ``target`` label per Remi; a state is an
enum-style gauge (1 for the current value, 0 for the others) so a graph shows its
changes and a rule can match ``== 1``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from remi_ops.domain import Severity, Status, Trigger
from remi_ops.metrics.snapshot import Snapshot, TargetReading
from remi_ops.supervision.states import State

P = "remi_ops_"


class WatcherCollector(Collector):
    """Turns the latest snapshot into metrics at scrape time (no I/O, no locks of the
    watcher: ``latest`` hands over a frozen value)."""

    def __init__(self, latest: Callable[[], Snapshot | None]) -> None:
        self._latest = latest

    def collect(self) -> Iterator[Metric]:
        snapshot = self._latest()
        if snapshot is None:  # the watcher has not published yet
            return
        yield _gauge("watcher_heartbeat_timestamp_seconds",
                     "When the watcher last refreshed these metrics (unix time); older than "
                     "a few seconds means the watcher itself is frozen",
                     [], [([], snapshot.taken_at)])
        yield from _target_metrics(snapshot.targets)
        yield from _alert_metrics(snapshot)


def _target_metrics(targets: tuple[TargetReading, ...]) -> Iterator[Metric]:
    yield _gauge("target_up", "1 when Remi's process is running (healthy or not), else 0",
                 ["target"], [([t.name], float(t.up)) for t in targets])
    yield _gauge("target_state", "The supervisor's state: 1 for the current one",
                 ["target", "state"], [([t.name, s.value], float(t.state == s.value))
                                       for t in targets for s in State])
    yield _gauge("target_health", "The last check's verdict: 1 for the current one",
                 ["target", "status"], [([t.name, s.value], float(t.health == s.value))
                                        for t in targets if t.health is not None
                                        for s in Status])
    yield _gauge("target_start_time_seconds",
                 "When Remi's running process started (unix time); uptime is time() minus it",
                 ["target"], [([t.name], t.started_at) for t in targets
                              if t.started_at is not None])
    yield _gauge("last_check_timestamp_seconds", "When the last full check ended (unix time)",
                 ["target"], [([t.name], t.last_check_at) for t in targets
                              if t.last_check_at is not None])
    yield _gauge("remi_loop_lag_seconds",
                 "How late Remi's event loop is, from its beacon: the last beat's lag, or "
                 "how long it has been blocked", ["target"],
                 [([t.name], t.loop_lag_s) for t in targets if t.loop_lag_s is not None])
    yield _counter("restarts", "Restarts recorded, by why they happened (start = a first "
                   "start); failed attempts included", ["target", "trigger"],
                   [([t.name, tr.value], t.restarts.total.get(tr.value, 0))
                    for t in targets for tr in Trigger])
    yield _counter("restart_failures", "Restart attempts that did not bring Remi up",
                   ["target", "trigger"],
                   [([t.name, tr.value], t.restarts.failed.get(tr.value, 0))
                    for t in targets for tr in Trigger])
    yield _gauge("error_groups", "Error groups not marked fixed (remi-ops resolve)",
                 ["target"], [([t.name], t.errors.open_groups) for t in targets])
    yield _counter("error_occurrences", "Errors Remi logged, every occurrence of every group",
                   ["target"], [([t.name], t.errors.occurrences) for t in targets])


def _alert_metrics(snapshot: Snapshot) -> Iterator[Metric]:
    names = [t.name for t in snapshot.targets]
    yield _gauge("alerts_firing", "Alerts firing now (flapping included), by severity",
                 ["target", "severity"], [([n, s.value], snapshot.firing.get((n, s.value), 0))
                                          for n in names for s in Severity])
    yield _gauge("outbox_depth", "Notifications waiting to be delivered, per sink",
                 ["sink"], [([sink], depth) for sink, depth in snapshot.outbox_depth.items()])
    yield _counter("notification_failures", "Failed delivery attempts per sink since the "
                   "watcher started (each retry counts)", ["sink"],
                   [([sink], n) for sink, n in snapshot.failures.items()])


Samples = list[tuple[list[str], float | int]]


def _gauge(name: str, help_text: str, labels: list[str], samples: Samples) -> Metric:
    family = GaugeMetricFamily(P + name, help_text, labels=labels)
    for values, value in samples:
        family.add_metric(values, value)
    return family


def _counter(name: str, help_text: str, labels: list[str], samples: Samples) -> Metric:
    family = CounterMetricFamily(P + name, help_text, labels=labels)
    for values, value in samples:
        family.add_metric(values, value)
    return family
