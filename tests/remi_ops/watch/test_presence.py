"""The watcher is watched: a real ``remi-ops watch`` frozen with SIGSTOP is reported stale by
``status`` and ``health`` (exit 1) once its heartbeat is older than ``heartbeat_stale_s``,
running again after SIGCONT, and "not running" when it was never started or was killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from bubabot_local.simkit import sim_config_file

from remi_ops.testing import wait_until
from tests.remi_ops.watch.test_verb_journeys import one_remi, run, watcher_process

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("reap_sims")]
STALE_S = 2.0
#: generous: stale after ``heartbeat_stale_s`` + one check, seen by a CLI poll under load
NOTICED_WITHIN_S = 30


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    """The simulator's config with a fast check and a short staleness."""
    path = sim_config_file(tmp_path)
    text = path.read_text(encoding="utf-8").replace(
        "[watchdog]\n", f"[watchdog]\ncheck_interval_s = 0.5\nheartbeat_stale_s = {STALE_S}\n")
    path.write_text(text, encoding="utf-8")
    return path


def status(cfg: Path) -> tuple[int, dict[str, Any], str]:
    """``status --json`` (exit, the target's document) and the text line."""
    as_json = run(cfg, "status", "--json")
    as_text = run(cfg, "status")
    assert as_json.returncode == as_text.returncode, (as_json, as_text)
    assert "Traceback" not in as_json.stderr + as_text.stderr
    [doc] = json.loads(as_json.stdout)
    return as_json.returncode, doc, as_text.stdout


def status_once(cfg: Path, code: int) -> tuple[int, dict[str, Any], str]:
    """``status`` once it exits ``code`` (polled with a generous timeout)."""
    seen: list[tuple[int, dict[str, Any], str]] = []

    def exits_so() -> bool:
        seen.append(status(cfg))
        return seen[-1][0] == code

    wait_until(exits_so, timeout=NOTICED_WITHIN_S, what=f"status exiting {code}")
    return seen[-1]


def health(cfg: Path) -> subprocess.CompletedProcess[str]:
    return run(cfg, "health")


def test_a_watcher_never_started_is_not_running(cfg: Path) -> None:
    code, doc, line = status(cfg)
    assert code == 1 and doc["watcher"]["state"] == "not running"
    assert "watcher not running" in line
    checked = health(cfg)
    assert checked.returncode == 1 and "watcher not running" in checked.stdout


def test_a_frozen_watcher_is_stale_then_running_again_then_not_running_once_killed(
        cfg: Path) -> None:
    with watcher_process(cfg) as watcher:
        one_remi(cfg)
        code, doc, line = status_once(cfg, 0)
        assert doc["watcher"]["state"] == "running" and "watcher running" in line

        os.kill(watcher.pid, signal.SIGSTOP)
        try:
            # asked right away, before the heartbeat is old: it stops waiting for the
            # frozen watcher once it turns stale (it used to wait 90 s, then said nothing)
            checked = health(cfg)
            assert checked.returncode == 1, checked.stdout + checked.stderr
            assert "watcher stale (last beat " in checked.stdout, checked.stdout
            code, doc, line = status_once(cfg, 1)
            assert doc["watcher"]["state"] == "stale", doc
            assert doc["watcher"]["last_beat_age_s"] > STALE_S
            assert "watcher stale (last beat " in line and " ago)" in line, line
            assert doc["running"], "Remi itself still runs: only its watcher is stuck"
            checked = health(cfg)
            assert checked.returncode == 1, checked.stdout + checked.stderr
            assert "watcher stale (last beat " in checked.stdout, checked.stdout
            as_json = run(cfg, "health", "--json")
            assert as_json.returncode == 1
            [report] = json.loads(as_json.stdout)
            assert report["watcher"]["state"] == "stale"
        finally:
            os.kill(watcher.pid, signal.SIGCONT)

        code, doc, line = status_once(cfg, 0)
        assert doc["watcher"]["state"] == "running" and "watcher running" in line

        watcher.kill()
        watcher.wait(10)
        code, doc, line = status(cfg)
        assert code == 1 and doc["watcher"]["state"] == "not running", doc
        assert "watcher not running" in line
