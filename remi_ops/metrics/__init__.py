"""Prometheus metrics of a watcher (``[metrics] listen``), for a fleet's dashboards and rules.

    tallies    running totals the store keeps: restarts by trigger, error occurrences
    snapshot   one frozen reading of a watcher, taken off the loop, read by scrapes
    collector  a snapshot as metric families (every metric's name and help text)
    server     ``host:port`` → prometheus_client's HTTP server; a port in use is exit 2
    exporter   ``WatcherMetrics``: registry + latest snapshot + server, for one watcher
"""
