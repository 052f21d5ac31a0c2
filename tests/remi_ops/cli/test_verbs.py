"""The runbook from the command line, with and without a running watcher.

Without a watcher the command line runs the verb itself, through the same supervisor a
watcher would use, so what it does is persisted the same way; with one, it asks it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bubabot_local.simkit import sim_config_file, sims_in

from remi_ops.checks.healthfile import write_health_file
from remi_ops.cli.main import main
from remi_ops.clock import SystemClock
from remi_ops.config_file import load_settings
from remi_ops.domain import ErrorGroup, HealthReport, LogKind, Status
from remi_ops.host import TargetLock
from remi_ops.logs.redact import redact_patterns
from remi_ops.store.database import Store
from remi_ops.testing import wait_until
from remi_ops.watch.watcher import STORE_NAME

FINGERPRINT = "3f2a9c0d1e4b5a69"


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return sim_config_file(tmp_path)


def cli(cfg: Path, *args: str) -> int:
    return main(["--config", str(cfg), *args])


def run(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "remi_ops.cli.main", "--config", str(cfg),
                           *args], capture_output=True, text=True, timeout=120, check=False)


def store_of(cfg: Path) -> Store:
    return Store.open(cfg.parent / "state" / STORE_NAME, SystemClock())


def supervisor_state(cfg: Path) -> str:
    with store_of(cfg) as store:
        return str(store.get_state("supervisor:remi")["state"])


def remis(cfg: Path) -> list[int]:
    return [p.pid for p in sims_in(cfg.parent / "remi")]


@contextmanager
def watcher_process(cfg: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``remi-ops watch`` in its own process, holding the lock, until the block ends."""
    watcher = subprocess.Popen([sys.executable, "-m", "remi_ops.cli.main", "--config",
                                str(cfg), "watch"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: json.loads(run(cfg, "status", "--json").stdout)[0]["watched"],
                   timeout=15, what="the watcher holding the lock")
        yield watcher
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(20)


@pytest.fixture
def watching(cfg: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A watcher for the whole test."""
    with watcher_process(cfg) as watcher:
        yield watcher


# ---------------------------------------------------------------------------- start / stop


@pytest.mark.integration
@pytest.mark.usefixtures("reap_sims")
def test_start_and_stop_without_a_watcher_go_through_the_supervisor(
        cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(cfg, "start") == 0
    [pid] = remis(cfg)
    assert f"remi: started (pid {pid})" in capsys.readouterr().out
    assert supervisor_state(cfg) == "starting"
    assert cli(cfg, "stop", "--reason", "deploy") == 0
    assert f"remi: stopped; it stays down until started (pid {pid})" in capsys.readouterr().out
    assert remis(cfg) == []
    assert supervisor_state(cfg) == "stopped"
    with store_of(cfg) as store:
        since = datetime.now(UTC) - timedelta(minutes=5)
        [started] = store.restarts("remi", since)
        stopped = [t for t in store.transitions("remi", since) if t.to_state == "stopped"]
    assert started.new_pid == pid and started.requested_by.startswith("cli:")
    assert "deploy" in stopped[0].reason


@pytest.mark.integration
@pytest.mark.usefixtures("reap_sims")
def test_a_second_start_without_a_watcher_undoes_the_stop(cfg: Path) -> None:
    assert cli(cfg, "start") == 0
    assert cli(cfg, "stop") == 0
    assert cli(cfg, "start") == 0
    assert len(remis(cfg)) == 1
    assert supervisor_state(cfg) != "stopped"


@pytest.mark.integration
@pytest.mark.usefixtures("reap_sims")
def test_a_stop_without_a_watcher_holds_when_a_watcher_starts(cfg: Path) -> None:
    assert cli(cfg, "start") == 0
    assert cli(cfg, "stop") == 0
    with watcher_process(cfg):
        time.sleep(1.5)  # it adopts or starts at once; it must not start this one
        assert remis(cfg) == []
        status = json.loads(run(cfg, "status", "--json").stdout)[0]
        assert status["supervisor_state"] == "stopped" and not status["running"]


@pytest.mark.integration
@pytest.mark.usefixtures("reap_sims")
def test_remi_ops_start_asks_the_watcher_to_undo_a_stop(cfg: Path) -> None:
    assert cli(cfg, "stop") == 0
    with watcher_process(cfg):
        started = run(cfg, "start")
        assert started.returncode == 0, started.stderr
        assert len(remis(cfg)) == 1


@pytest.mark.integration
@pytest.mark.usefixtures("reap_sims")
def test_maintenance_without_a_watcher(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(cfg, "maintenance", "2h", "--reason", "moving hosts") == 0
    assert "remi: in maintenance until" in capsys.readouterr().out
    assert supervisor_state(cfg) == "maintenance"
    assert cli(cfg, "maintenance", "end") == 0  # supervision is back: it starts Remi
    assert "maintenance ended" in capsys.readouterr().out
    assert len(remis(cfg)) == 1 and supervisor_state(cfg) != "maintenance"


# ---------------------------------------------------------------------------- resolve


def seed_group(cfg: Path) -> None:
    at = datetime.now(UTC)
    with store_of(cfg) as store:
        store.upsert_error_groups("remi", [ErrorGroup(
            FINGERPRINT, "remi", redact_patterns("NameError: name 'asyncio' is not defined"),
            LogKind.CRASH, 3, at, at, redact_patterns("Traceback …"),
            "scoring_async.py in score_batch_async")])


def resolved_at(cfg: Path) -> datetime | None:
    with store_of(cfg) as store:
        group = store.error_group("remi", FINGERPRINT)
    assert group is not None
    return group.resolved_at


def test_resolve_without_a_watcher(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed_group(cfg)
    assert cli(cfg, "resolve", FINGERPRINT) == 0
    assert f"error group {FINGERPRINT}" in capsys.readouterr().out
    assert resolved_at(cfg) is not None
    assert cli(cfg, "errors") == 0
    assert "[fixed " in capsys.readouterr().out
    assert cli(cfg, "resolve", "0" * 16) == 1
    assert "no error group '0000000000000000'" in capsys.readouterr().err


@pytest.mark.integration
@pytest.mark.usefixtures("reap_sims")
def test_resolve_asks_a_running_watcher(cfg: Path, watching: Any) -> None:
    seed_group(cfg)
    done = run(cfg, "resolve", FINGERPRINT, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["group"]["fingerprint"] == FINGERPRINT
    assert resolved_at(cfg) is not None
    unknown = run(cfg, "resolve", "0" * 16)
    assert unknown.returncode == 1 and "no error group" in unknown.stderr
    stopped = run(cfg, "stop", "--reason", "through the watcher")
    assert stopped.returncode == 0 and "remi: stopped" in stopped.stdout


def test_a_lock_held_by_another_remi_ops_is_waited_for(cfg: Path) -> None:
    """Not every lock holder is a watcher: when another ``remi-ops`` lets go, the request
    nobody served is taken back and carried out here."""
    seed_group(cfg)
    other = TargetLock(load_settings(cfg).target("remi")).acquire()
    threading.Timer(0.5, other.release).start()
    assert cli(cfg, "resolve", FINGERPRINT) == 0
    assert resolved_at(cfg) is not None
    assert list((cfg.parent / "state" / "requests").iterdir()) == []


# ---------------------------------------------------------------------------- presence


def pretend_watcher(cfg: Path, heartbeat_age_s: float) -> TargetLock:
    """Hold the lock as a watcher would, with a heartbeat of the given age in .bot_health."""
    lock = TargetLock(load_settings(cfg).target("remi")).acquire()
    now = datetime.now(UTC)
    report = HealthReport("remi", Status.HEALTHY, now - timedelta(seconds=heartbeat_age_s),
                          supervisor_state="running")
    write_health_file(cfg.parent / "remi" / ".bot_health", report, watcher_pid=os.getpid(),
                      watcher_beat=now - timedelta(seconds=heartbeat_age_s),
                      check_interval_s=60)
    return lock


def test_a_stale_watcher_heartbeat_is_reported(cfg: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Older than watchdog.heartbeat_stale_s (180 s): the watcher is stuck, and it says so."""
    with pretend_watcher(cfg, heartbeat_age_s=600):
        cli(cfg, "status", "--json")
        [doc] = json.loads(capsys.readouterr().out)
        assert doc["watched"] and doc["watcher_stale"]
        assert doc["watcher"]["state"] == "stale" and doc["watcher"]["last_beat_age_s"] >= 600
        assert cli(cfg, "status") == 1
        assert "watcher stale (last beat 10m 00s ago)" in capsys.readouterr().out
        assert cli(cfg, "health") == 1
        out = capsys.readouterr().out
        assert out.startswith("remi: degraded") and "watcher stale (last beat" in out
        assert cli(cfg, "health", "--json") == 1
        [report] = json.loads(capsys.readouterr().out)
        assert [f["check"] for f in report["findings"]] == ["watcher"]


def test_a_fresh_watcher_heartbeat_is_not_stale(cfg: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    with pretend_watcher(cfg, heartbeat_age_s=5):
        cli(cfg, "status", "--json")
        [doc] = json.loads(capsys.readouterr().out)
        assert doc["watched"] and not doc["watcher_stale"]
        assert doc["watcher"]["state"] == "running"
        cli(cfg, "status")
        assert "watcher running" in capsys.readouterr().out


def test_health_without_a_watcher_says_nobody_watches(
        cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(cfg, "health") == 1
    out = capsys.readouterr().out
    assert "process is not running" in out and "watcher not running" in out
