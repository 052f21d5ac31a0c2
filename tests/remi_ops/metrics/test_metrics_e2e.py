"""``[metrics] listen`` for real: a ``remi-ops watch`` process supervising the Remi
simulator, scraped over HTTP and parsed with prometheus_client's parser while Remi logs an
error, is killed and comes back; and a port already taken, refused in one line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from bubabot_local.metricskit import Scrape, free_port, scrape
from bubabot_local.simkit import SCAN, SIM, control, sims_in

from remi_ops.testing import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("reap_sims")]
UP_TIMEOUT_S = 30


def config(tmp: Path, listen: str) -> Path:
    """One simulated Remi; its ``.bot_alert`` is a directory, so the file sink fails and
    its notifications wait in the outbox (the depth and failures to see)."""
    workdir = tmp / "remi"
    (workdir / "alerts.d").mkdir(parents=True)
    path = tmp / "bubabot.toml"
    path.write_text(f"""
[watchdog]
state_dir = "{tmp / 'state'}"

[[targets]]
name = "remi"
workdir = "{workdir}"
command = {json.dumps(SIM)}
alert_file = "alerts.d"

[targets.restart]
stop_grace_s = 2
start_seconds = 0.5

[targets.scan_test]
command = {json.dumps(SCAN)}
timeout_s = 5
expect_pattern = "scan ok"

[alerts]
group_wait_s = 0
group_interval_s = 0
retry_initial_s = 0.2
retry_max_s = 1

[metrics]
listen = "{listen}"
""", encoding="utf-8")
    return path


def remi_ops(cfg: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "remi_ops.cli.main", "--config", str(cfg), *args]


@pytest.fixture
def listen() -> str:
    return f"127.0.0.1:{free_port()}"


@pytest.fixture
def watcher(tmp_path: Path, listen: str) -> Iterator[Path]:
    """``remi-ops watch`` in its own process until the test ends; yields the config."""
    cfg = config(tmp_path, listen)
    log = tmp_path / "watcher.log"
    with log.open("ab") as err:
        proc = subprocess.Popen(remi_ops(cfg, "watch"), stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_until(lambda: proc.poll() is not None or scraped(listen), timeout=UP_TIMEOUT_S,
                   what="/metrics answering")
        assert proc.poll() is None, log.read_text(errors="replace")[-800:]
        yield cfg
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def scraped(listen: str) -> Scrape | None:
    try:
        return scrape(listen)
    except OSError:  # not listening yet
        return None


def when(listen: str, what: str, ok: Callable[[Scrape], bool]) -> Scrape:
    """Scrape until ``ok(scrape)`` holds."""
    def probe() -> Scrape | None:
        seen = scrape(listen)
        return seen if ok(seen) else None
    return wait_until(probe, timeout=UP_TIMEOUT_S, what=what)


def test_a_scrape_follows_an_error_a_crash_and_the_restart(watcher: Path, listen: str) -> None:
    """up, state, health, error groups, alerts firing, restarts by trigger, outbox depth and
    failures, the watcher's heartbeat: each as a metric, each moving when Remi does."""
    workdir = watcher.parent / "remi"
    first = when(listen, "Remi running", lambda s: s.value(
        "remi_ops_target_state", target="remi", state="running") == 1)
    assert first.value("remi_ops_target_up", target="remi") == 1
    assert first.types["remi_ops_restarts"] == "counter"
    assert first.value("remi_ops_restarts_total", target="remi", trigger="crash") == 0
    started = first.value("remi_ops_target_start_time_seconds", target="remi")

    control(workdir, do="error")
    errored = when(listen, "the error group counted and its alert firing", lambda s: (
        s.value("remi_ops_error_occurrences_total", target="remi") or 0) >= 1 and s.value(
        "remi_ops_alerts_firing", target="remi", severity="warning") == 1)
    assert errored.value("remi_ops_error_groups", target="remi") == 1

    [remi] = sims_in(workdir)
    os.kill(remi.pid, signal.SIGKILL)
    back = when(listen, "a crash restart counted and Remi up again", lambda s: s.value(
        "remi_ops_restarts_total", target="remi", trigger="crash") == 1 and s.value(
        "remi_ops_target_state", target="remi", state="running") == 1)
    assert back.value("remi_ops_target_up", target="remi") == 1
    assert back.value("remi_ops_target_start_time_seconds", target="remi") != started
    assert (back.value("remi_ops_last_check_timestamp_seconds", target="remi") or 0) > 0

    failing = when(listen, "the file sink's failures counted", lambda s: (
        s.value("remi_ops_notification_failures_total", sink="file") or 0) >= 1)
    assert (failing.value("remi_ops_outbox_depth", sink="file") or 0) >= 1
    assert failing.value("remi_ops_outbox_depth", sink="console") == 0
    assert failing.value("remi_ops_notification_failures_total", sink="console") == 0
    assert (failing.value("remi_ops_watcher_heartbeat_timestamp_seconds") or 0) > (
        first.value("remi_ops_watcher_heartbeat_timestamp_seconds") or 0)


def test_a_port_already_taken_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """Nothing is started, no traceback: the field, the address and what to do."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        cfg = config(tmp_path, listen)
        done = subprocess.run(remi_ops(cfg, "watch"), capture_output=True, text=True,
                              timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"config error: metrics.listen: cannot serve metrics on {listen}: "
                           "the port is already in use (another watcher or program listens "
                           "there); choose another port, or leave listen empty to turn "
                           "metrics off\n")
    assert sims_in(cfg.parent / "remi") == []
