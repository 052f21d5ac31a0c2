"""A real ``remi-ops watch``: its heartbeat reaches ``status`` at every check although
``.bot_health`` is rewritten only when it says something new, and a clean stop leaves no
``.bot_health.spare`` in Remi's workdir."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from bubabot_local.simkit import sim_config_file

from remi_ops.checks.healthfile import read_health_file
from remi_ops.host.swap import CAN_EXCHANGE
from remi_ops.testing import wait_until
from tests.remi_ops.watch.test_verb_journeys import one_remi, status, watcher_process

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("reap_sims")]


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    """Checks every 0.5 s; the measurements rewritten at most every 4 s (half of 8)."""
    path = sim_config_file(tmp_path)
    text = path.read_text(encoding="utf-8").replace(
        "[watchdog]\n", "[watchdog]\ncheck_interval_s = 0.5\nheartbeat_stale_s = 8\n")
    path.write_text(text, encoding="utf-8")
    return path


def touched_since_written(health: Path) -> bool:
    """The heartbeat read back is later than the one the document holds: a check that
    found nothing new moved only the file's mtime."""
    try:
        written = json.loads(health.read_text(encoding="utf-8"))["watcher"]["heartbeat_at"]
    except (OSError, ValueError, KeyError):
        return False
    doc = read_health_file(health) or {}
    read_back = doc.get("watcher", {}).get("heartbeat_at", written)
    return bool(datetime.fromisoformat(read_back) > datetime.fromisoformat(written))


@pytest.mark.skipif(not CAN_EXCHANGE, reason="no renameat2 exchange here: no spare")
def test_a_touched_heartbeat_is_seen_and_a_clean_stop_leaves_no_spare(cfg: Path) -> None:
    workdir = cfg.parent / "remi"
    health, spare = workdir / ".bot_health", workdir / ".bot_health.spare"
    with watcher_process(cfg):
        one_remi(cfg)
        wait_until(spare.exists, timeout=30, what="a second write (the exchange's pair)")
        # a quiet check touches the file: the beat read back is later than the one written
        wait_until(lambda: touched_since_written(health), timeout=30,
                   what="a check that only touched .bot_health")
        doc = status(cfg)
        assert doc["watched"] and not doc["watcher_stale"], doc
    assert health.exists()  # the last word of the watcher stays
    assert not spare.exists()
