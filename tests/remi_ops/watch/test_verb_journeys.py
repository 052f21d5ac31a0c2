"""Verbs in the orders people use them, through the real ``remi-ops`` command line against a
real watcher process and the Remi simulator: each does what the person means, at once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from bubabot_local.simkit import sim_config_file, sims_in

from remi_ops.testing import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("reap_sims")]
#: a verb answers well within this (the command line itself gives up after 90 s)
VERB_TIMEOUT_S = 60


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return sim_config_file(tmp_path)


def run(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "remi_ops.cli.main", "--config", str(cfg),
                           *args], capture_output=True, text=True, timeout=VERB_TIMEOUT_S,
                          check=False)


def remis(cfg: Path) -> list[int]:
    """The Remis running (not the post-restart scan test: the simulator's ``scan``, which
    runs in the same workdir when it falls due, 2 s after a restart)."""
    return [p.pid for p in sims_in(cfg.parent / "remi") if "scan" not in p.info["cmdline"]]


def status(cfg: Path) -> dict[str, object]:
    doc: list[dict[str, object]] = json.loads(run(cfg, "status", "--json").stdout)
    return doc[0]


@contextmanager
def watcher_process(cfg: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``remi-ops watch`` in its own process, holding the lock, until the block ends."""
    log = cfg.parent / "watcher.log"
    with log.open("ab") as err:  # kept: a watcher that does not come up says why
        watcher = subprocess.Popen([sys.executable, "-m", "remi_ops.cli.main", "--config",
                                    str(cfg), "watch"], stdout=subprocess.DEVNULL, stderr=err)
    try:
        try:
            wait_until(lambda: status(cfg)["watched"], timeout=30,
                       what="the watcher holding the lock")
        except AssertionError as exc:
            raise AssertionError(f"{exc} (watcher exit {watcher.poll()}; its log ends: "
                                 f"{log.read_text(errors='replace')[-800:]!r})") from None
        yield watcher
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(20)


def one_remi(cfg: Path) -> int:
    wait_until(lambda: len(remis(cfg)) == 1, timeout=15, what="one Remi running")
    [pid] = remis(cfg)
    return pid


def stopped(cfg: Path) -> None:
    done = run(cfg, "stop", "--reason", "deploy")
    assert done.returncode == 0, done.stdout + done.stderr
    wait_until(lambda: remis(cfg) == [], timeout=15, what="Remi stopped")


@pytest.mark.parametrize("verb", ["start", "restart"])
def test_after_a_stop_start_or_restart_brings_remi_back(cfg: Path, verb: str) -> None:
    """stop → start and stop → restart, asked of a running watcher."""
    with watcher_process(cfg):
        one_remi(cfg)
        stopped(cfg)
        done = run(cfg, verb)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Traceback" not in done.stderr and "went wrong" not in done.stdout
        one_remi(cfg)


def test_maintenance_then_restart_then_end(cfg: Path) -> None:
    """maintenance → restart (cuts it short, restarts), maintenance → end (supervised)."""
    with watcher_process(cfg):
        first = one_remi(cfg)
        assert run(cfg, "maintenance", "30m", "--reason", "upgrade").returncode == 0
        done = run(cfg, "restart", "--reason", "upgraded")
        assert done.returncode == 0, done.stdout + done.stderr
        wait_until(lambda: remis(cfg) not in ([], [first]), timeout=15, what="a new Remi")
        second = one_remi(cfg)
        assert run(cfg, "maintenance", "30m", "--reason", "again").returncode == 0
        ended = run(cfg, "maintenance", "end")
        assert ended.returncode == 0, ended.stdout + ended.stderr
        assert remis(cfg) == [second]


def test_stop_then_a_watcher_restart_then_start(cfg: Path) -> None:
    """The stop holds across a new watcher; start asked of that watcher brings Remi back."""
    with watcher_process(cfg):
        one_remi(cfg)
        stopped(cfg)
    with watcher_process(cfg):
        assert remis(cfg) == []
        done = run(cfg, "start")
        assert done.returncode == 0, done.stdout + done.stderr
        one_remi(cfg)
