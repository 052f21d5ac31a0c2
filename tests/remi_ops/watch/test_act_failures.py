"""The restart path with a broken state_dir, with real processes: a real ``remi-ops watch``,
the Remi simulator, SIGKILL. Remi comes back anyway, one clear line lands in
``.bot_alert`` (written without SQLite), and the watcher does not spin.

The tests run as root in CI, where ``chmod`` stops nothing; so the state_dir is broken in a
way that fails for root too: a file where the pidfile's directory should be.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from bubabot_local.simkit import sim_config_file, sims_in

from remi_ops.config_file import load_settings
from remi_ops.testing import wait_until
from remi_ops.watch.fallback import FALLBACK_KIND

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("reap_sims")]
#: CPU the watcher may use over the measuring window, as a share of one core (generous: an
#: idle watcher polls every second; the bug was ~85 % of a core)
CPU_SHARE_BOUND = 0.5
MEASURE_S = 4.0


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return sim_config_file(tmp_path)


def remis(cfg: Path) -> list[int]:
    return [p.pid for p in sims_in(cfg.parent / "remi")]


@contextmanager
def watcher_process(cfg: Path) -> Iterator[psutil.Process]:
    log = (cfg.parent / "watcher.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "remi_ops.cli.main", "--config", str(cfg),
                             "watch"], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: len(remis(cfg)) == 1, timeout=20, what="the watcher's Remi")
        # the scan test after the first start runs once the watcher's start is over (its
        # last commit included): damage done earlier is a failed start, not what is tested
        alert_file = load_settings(cfg).targets[0].alert_file
        wait_until(lambda: alert_file.exists() and "/scan test" in alert_file.read_text(
            "utf-8", errors="replace"), timeout=30, what="the scan test after the start")
        yield psutil.Process(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        log.close()


def fallback_lines(alert_file: Path) -> list[dict[str, str]]:
    if not alert_file.exists():
        return []
    lines = [json.loads(line) for line in alert_file.read_text("utf-8").splitlines() if line]
    return [line for line in lines if line.get("kind") == FALLBACK_KIND]


def cpu_share(proc: psutil.Process, seconds: float) -> float:
    before = proc.cpu_times()
    time.sleep(seconds)
    after = proc.cpu_times()
    return (after.user + after.system - before.user - before.system) / seconds


def test_a_broken_pidfile_directory_does_not_keep_remi_down(cfg: Path) -> None:
    """SIGKILL with the pidfile directory unusable: the pidfile is only a hint, so Remi is
    restarted as usual, nothing is said as a failure, and the watcher warns once."""
    settings = load_settings(cfg)
    alert_file = settings.targets[0].alert_file
    pids = settings.state_dir / "pids"
    with watcher_process(cfg) as watcher:
        [old] = remis(cfg)
        shutil.rmtree(pids)
        pids.write_text("not a directory\n", encoding="utf-8")
        os.kill(old, signal.SIGKILL)
        wait_until(lambda: remis(cfg) not in ([], [old]), timeout=20,
                   what="Remi restarted despite the broken pidfile directory")
        assert cpu_share(watcher, MEASURE_S) < CPU_SHARE_BOUND
        [new] = remis(cfg)
        os.kill(new, signal.SIGKILL)  # a second death: restarted again, not warned again
        wait_until(lambda: remis(cfg) not in ([], [new]), timeout=30,
                   what="Remi restarted a second time")
    assert fallback_lines(alert_file) == []  # no start or stop failed
    log = (cfg.parent / "watcher.log").read_text("utf-8", errors="replace")
    assert log.count("cannot write the pidfile") == 1


def test_a_damaged_database_does_not_keep_remi_down(cfg: Path) -> None:
    """SIGKILL after the store's WAL was overwritten with garbage: Remi is restarted anyway,
    the failure is told in ``.bot_alert`` without SQLite, and the watcher does not spin."""
    settings = load_settings(cfg)
    alert_file = settings.targets[0].alert_file
    wal = settings.state_dir / "bubabot.sqlite3-wal"
    with watcher_process(cfg) as watcher:
        [old] = remis(cfg)
        wait_until(wal.exists, timeout=10, what="the store's WAL")
        for part in (wal, wal.with_name("bubabot.sqlite3-shm")):
            with part.open("r+b") as fh:
                fh.write(b"\xde\xad\xbe\xef" * 4096)
        db = settings.state_dir / "bubabot.sqlite3"
        with db.open("r+b") as fh:
            fh.seek(100)
            fh.write(b"\x00\xff" * 8192)
        os.kill(old, signal.SIGKILL)
        wait_until(lambda: remis(cfg) not in ([], [old]), timeout=20,
                   what="Remi restarted despite the damaged database")
        wait_until(lambda: fallback_lines(alert_file), timeout=10, what="the fallback line")
        assert cpu_share(watcher, MEASURE_S) < CPU_SHARE_BOUND
    [line] = fallback_lines(alert_file)  # said once, though every record since failed
    # the first step the damage broke: recording, or (a busy machine) the log read before it
    assert line["level"] == "critical"
    assert line["where"] in ("recording", "reading the log after an exit")
    assert "database disk image is malformed" in line["message"]
