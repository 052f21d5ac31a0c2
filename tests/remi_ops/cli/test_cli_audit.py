"""Command-line actions are people's actions: announced, in history and in the audit log,
with or without a watcher; and a watcher that dies leaves nothing unannounced or unanswered.

Real processes throughout: ``remi-ops watch`` as a child, the simulated Remi, SIGKILL.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bubabot_local.simkit import control, sim_config_file

from remi_ops.clock import SystemClock
from remi_ops.store.database import Store
from remi_ops.testing import wait_until
from remi_ops.watch.watcher import STORE_NAME

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("reap_sims")]


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return sim_config_file(tmp_path, extra="[discord]\nalert_channel_id = 77\n")


def run(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "remi_ops.cli.main", "--config", str(cfg),
                           *args], capture_output=True, text=True, timeout=120, check=False)


def start_watcher(cfg: Path) -> subprocess.Popen[bytes]:
    watcher = subprocess.Popen([sys.executable, "-m", "remi_ops.cli.main", "--config",
                                str(cfg), "watch"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    wait_until(lambda: json.loads(run(cfg, "status", "--json").stdout)[0]["watched"],
               timeout=15, what="the watcher holding the lock")
    return watcher


def stop_watcher(watcher: subprocess.Popen[bytes]) -> None:
    if watcher.poll() is None:
        watcher.send_signal(signal.SIGTERM)
    watcher.wait(20)


def store_of(cfg: Path) -> Store:
    return Store.open(cfg.parent / "state" / STORE_NAME, SystemClock())


def alerts(cfg: Path, kind: str) -> list[dict[str, Any]]:
    """The ``.bot_alert`` records about ``kind`` (an alert kind, e.g. restart)."""
    path = cfg.parent / "remi" / ".bot_alert"
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [r for r in records if any(a["key"].split("/")[1] == kind for a in r["alerts"])]


def assert_a_persons_stop_is_everywhere(cfg: Path) -> None:
    def stops() -> list[dict[str, Any]]:
        return [r for r in alerts(cfg, "operator_action") if "stop of remi" in json.dumps(r)]

    wait_until(stops, timeout=10, what="the announcement")
    [notice] = stops()
    assert "cli:root: stop of remi: remi: stopped" in json.dumps(notice)
    history = run(cfg, "history")
    assert "stop by cli:root: deploy" in history.stdout, history.stdout
    with store_of(cfg) as store:
        [row] = [r for r in store.audit_log() if r.action == "stop"]
    assert (row.actor, row.state, row.ok, row.arguments) == ("cli:root", "done", True,
                                                              {"reason": "deploy"})


def test_a_stop_without_a_watcher_is_announced_recorded_and_audited(cfg: Path) -> None:
    assert run(cfg, "start").returncode == 0
    stopped = run(cfg, "stop", "--reason", "deploy")
    assert stopped.returncode == 0, stopped.stderr
    assert_a_persons_stop_is_everywhere(cfg)
    with store_of(cfg) as store:  # Bubabot posts it in #quick-tasks when it runs again
        waiting = store.query("SELECT payload FROM outbox WHERE sink = 'discord' "
                              "AND state = 'pending'")
    assert any("operator_action" in row["payload"] for row in waiting)


def test_a_stop_through_a_watcher_is_announced_recorded_and_audited(cfg: Path) -> None:
    watcher = start_watcher(cfg)
    try:
        stopped = run(cfg, "stop", "--reason", "deploy")
        assert stopped.returncode == 0, stopped.stderr
        assert_a_persons_stop_is_everywhere(cfg)
    finally:
        stop_watcher(watcher)


def restarts_by_cli(cfg: Path) -> int:
    with store_of(cfg) as store:
        since = datetime.now(UTC) - timedelta(minutes=5)
        return sum(r.requested_by.startswith("cli:") for r in store.restarts("remi", since))


def test_a_restart_is_announced_once_though_the_watcher_died_right_after(cfg: Path) -> None:
    watcher = start_watcher(cfg)
    asked: list[subprocess.CompletedProcess[str]] = []
    cli = threading.Thread(target=lambda: asked.append(run(cfg, "restart")))
    cli.start()
    try:
        wait_until(lambda: restarts_by_cli(cfg) == 1, timeout=30,
                   what="the restart recorded")
        time.sleep(0.1)
        watcher.send_signal(signal.SIGKILL)
        watcher.wait(10)
        killed_at = time.monotonic()
        cli.join(30)
        assert time.monotonic() - killed_at < 15  # an answer, not the 90 s timeout
        [done] = asked
        assert done.returncode == 0 or "the watcher died before answering; the restart " \
            "did happen" in done.stderr, done.stderr
        watcher = start_watcher(cfg)
        wait_until(lambda: alerts(cfg, "restart"), timeout=15, what="the restart announced")
        time.sleep(2.5)  # two more commits: nothing announced twice
        operator = [r for r in alerts(cfg, "restart") if "cli:root" in json.dumps(r)]
        assert len(operator) == 1, operator
    finally:
        stop_watcher(watcher)


def test_a_request_cut_short_by_a_dying_watcher_is_answered_at_once(cfg: Path) -> None:
    watcher = start_watcher(cfg)
    try:
        control(cfg.parent / "remi", do="scan_mode", mode="hang")
        asked: list[subprocess.CompletedProcess[str]] = []
        cli = threading.Thread(target=lambda: asked.append(run(cfg, "scan-test")))
        cli.start()
        with store_of(cfg) as store:
            wait_until(lambda: any(r.action == "scan_test" and r.state == "requested"
                                   for r in store.audit_log()), timeout=15,
                       what="the scan test under way")
        watcher.send_signal(signal.SIGKILL)
        watcher.wait(10)
        killed_at = time.monotonic()
        cli.join(30)
        assert time.monotonic() - killed_at < 10
        [done] = asked
        assert done.returncode == 1
        assert "the watcher died before answering, in the middle of the scan_test: it may " \
               "have partly happened" in done.stderr, done.stderr
    finally:
        stop_watcher(watcher)
