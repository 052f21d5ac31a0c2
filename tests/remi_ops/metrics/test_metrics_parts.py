"""The metrics' parts without a watcher: the listen address, the server's lifetime, Remi's
loop lag from a beacon, and a snapshot rendered into a valid exposition."""

from __future__ import annotations

from pathlib import Path

import pytest
from bubabot_local.metricskit import free_port, parse, scrape
from prometheus_client import CollectorRegistry, generate_latest

from remi_ops.beacon import BeaconReading
from remi_ops.config_file import parse_settings
from remi_ops.domain import ProcessIdentity
from remi_ops.exceptions import ConfigError
from remi_ops.metrics.collector import WatcherCollector
from remi_ops.metrics.server import ListenAddress, MetricsServer
from remi_ops.metrics.snapshot import Snapshot, TargetReading, loop_lag_of
from remi_ops.metrics.tallies import RestartTally
from remi_ops.watch.watcher import Watcher

REMI = ProcessIdentity(pid=4242, create_time=1_700_000_000.0, cmdline=("python", "main.py"))


def beacon(*, pid: int | None = 4242, lag: float = 0.01, blocked: float = 0.0,
           beat_age: float = 0.5, stopped: bool = False) -> BeaconReading:
    return BeaconReading(pid=pid, age_s=0.5, beat_age_s=beat_age, loop_lag_s=lag,
                         max_lag_s=lag, blocked_for_s=blocked, interval_s=2.0,
                         stuck_stack=None, stopped=stopped)


@pytest.mark.parametrize(("ident", "reading", "lag"), [
    (REMI, beacon(lag=0.03), 0.03),  # on time: how late the last beat ran
    (REMI, beacon(pid=None, lag=0.03), 0.03),  # an old beacon without a pid: trusted
    (REMI, beacon(blocked=848.0, beat_age=852.0), 850.0),  # blocked: for how long, now
    (REMI, beacon(pid=999), None),  # a previous process's beacon says nothing
    (REMI, beacon(stopped=True), None),  # Remi shut down cleanly
    (REMI, None, None),  # no beacon (Remi does not run one)
    (None, beacon(), None),  # not running
])
def test_remi_loop_lag(ident: ProcessIdentity | None, reading: BeaconReading | None,
                       lag: float | None) -> None:
    """The 850-s freeze reads as 850 s, never as the last good beat."""
    assert loop_lag_of(ident, reading) == lag


@pytest.mark.parametrize("listen", ["127.0.0.1:0", "127.0.0.1:65536", "localhost:99999"])
def test_a_port_out_of_range_is_a_config_error(listen: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"metrics": {"listen": listen}}, base_dir=tmp_path)
    assert ("metrics.listen: the port must be from 1 to 65535 (e.g. 127.0.0.1:9808)"
            in caught.value.problems)


@pytest.mark.parametrize(("listen", "host", "port"), [
    ("127.0.0.1:9808", "127.0.0.1", 9808), ("[::1]:9808", "::1", 9808),
    ("metrics.example.net:80", "metrics.example.net", 80)])
def test_listen_address(listen: str, host: str, port: int) -> None:
    address = ListenAddress.parse(listen)
    assert (address.host, address.port, str(address)) == (host, port, listen)


def test_stop_frees_the_port() -> None:
    """A watcher that closes lets the next one listen on the same port."""
    listen = f"127.0.0.1:{free_port()}"
    server = MetricsServer.start(CollectorRegistry(), listen)
    try:
        assert scrape(listen).samples == ()
    finally:
        server.stop()
    with pytest.raises(OSError):  # nobody answers any more
        scrape(listen, timeout_s=2)
    again = MetricsServer.start(CollectorRegistry(), listen)
    again.stop()


def test_an_address_not_of_this_machine_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        MetricsServer.start(CollectorRegistry(), "192.0.2.1:9808")  # TEST-NET-1: never local
    assert caught.value.problems == ("metrics.listen: cannot serve metrics on "
                                     "192.0.2.1:9808: that address is not one of this "
                                     "machine's",)


def render(snapshot: Snapshot | None) -> str:
    registry = CollectorRegistry()
    registry.register(WatcherCollector(lambda: snapshot))
    return generate_latest(registry).decode()


def test_nothing_before_the_first_snapshot() -> None:
    assert render(None) == ""


def test_a_stopped_remi() -> None:
    """Down, stopped, no start time or loop lag (no sample rather than a made-up 0)."""
    seen = parse(render(Snapshot(taken_at=1_700_000_100.0, targets=(
        TargetReading("remi", "stopped", up=False,
                      restarts=RestartTally({"crash": 3}, {"crash": 1})),))))
    assert seen.value("remi_ops_target_up", target="remi") == 0
    states = [s for s in seen.samples if s.name == "remi_ops_target_state"]
    assert [s.labels["state"] for s in states if s.value == 1] == ["stopped"]
    assert len(states) == 9  # every state, so a graph shows the change
    assert seen.value("remi_ops_target_start_time_seconds", target="remi") is None
    assert seen.value("remi_ops_remi_loop_lag_seconds", target="remi") is None
    assert seen.value("remi_ops_restarts_total", target="remi", trigger="crash") == 3
    assert seen.value("remi_ops_restart_failures_total", target="remi", trigger="crash") == 1
    assert seen.value("remi_ops_restarts_total", target="remi", trigger="hang") == 0
    assert seen.value("remi_ops_watcher_heartbeat_timestamp_seconds") == 1_700_000_100.0


async def test_a_failing_store_keeps_the_last_snapshot_and_says_so_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The heartbeat stops moving (a rule sees it); the log gets one line, not one per 2 s."""
    watcher = Watcher(parse_settings({
        "watchdog": {"state_dir": str(tmp_path / "state")},
        "targets": [{"name": "remi", "workdir": str(tmp_path), "command": ["true"]}],
        "metrics": {"listen": f"127.0.0.1:{free_port()}"}}, base_dir=tmp_path),
        console=None)
    await watcher.metrics.refresh()
    first = watcher.metrics.latest()
    assert first is not None and first.targets[0].name == "remi"
    watcher.store.close()  # every read now fails
    for _ in range(3):
        await watcher.metrics.refresh()
    assert watcher.metrics.latest() is first
    warnings = [r.getMessage() for r in caplog.records if r.name == "remi_ops.metrics.exporter"]
    assert len(warnings) == 1
    assert warnings[0].startswith("metrics: cannot refresh (ProgrammingError: ")
    watcher.close()
