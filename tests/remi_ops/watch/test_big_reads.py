"""End to end: a watcher parses a big first read of Remi's log in its worker process,
groups every error of it, and leaves no worker process behind when it stops."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import psutil
import pytest
from bubabot_local.logkit import DATA
from bubabot_local.simkit import kill_leftovers

from remi_ops.config_file import parse_settings
from remi_ops.domain import LogKind
from remi_ops.logs.parse import LogParser
from remi_ops.logs.parse_worker import BIG_READ_BYTES
from remi_ops.logs.tracebacks import GROUPED_KINDS
from remi_ops.testing import running, wait_until_async
from remi_ops.watch.watcher import Watcher

pytestmark = pytest.mark.integration
SLEEP = shutil.which("sleep") or "/bin/sleep"
#: every sample log again and again (about 1.2 MB), then a line that ends the last record
BIG = (b"".join(p.read_bytes() for p in sorted(DATA.glob("*.log"))) * 20
       + b"[2026-01-24 12:00:01] [INFO    ] remi: next line\n")


def grouped(data: bytes) -> Counter[str]:
    """Occurrences per error group, as an in-process parse of ``data`` counts them."""
    parser = LogParser(source="stderr", keep_info=False)
    records = parser.feed_bytes(data) + parser.flush()
    return Counter(r.fingerprint for r in records
                   if r.kind in GROUPED_KINDS and r.kind is not LogKind.HANG)


async def test_a_big_first_read_is_parsed_in_the_worker_which_ends_with_the_watcher(
        tmp_path: Path) -> None:
    assert len(BIG) >= BIG_READ_BYTES
    (tmp_path / "remi").mkdir()
    log = tmp_path / "remi" / "bot_error.log"
    log.write_bytes(BIG)
    settings = parse_settings({
        "watchdog": {"state_dir": str(tmp_path / "state"), "check_interval_s": 600,
                     "heartbeat_stale_s": 1800},
        "targets": [{"name": "remi", "workdir": str(tmp_path / "remi"),
                     "command": [SLEEP, "600"], "stderr_log": str(log),
                     "restart": {"stop_grace_s": 1}}]}, base_dir=tmp_path)
    expected = grouped(BIG)
    try:
        async with running(Watcher(settings, console=None, environ={})) as watcher:
            await wait_until_async(lambda: watcher.watch("remi").last_report, timeout=30,
                                   what="the first check done")
            assert watcher.parsing.reads_in_worker >= 1
            pid = watcher.parsing.pid()
            assert pid is not None and psutil.pid_exists(pid)
            counted = Counter({g.fingerprint: g.count
                               for g in watcher.store.error_groups("remi", None, 1_000_000)})
            assert counted == expected and sum(expected.values()) > 100
        assert not psutil.pid_exists(pid)  # closed with the watcher: no orphan
    finally:
        kill_leftovers(tmp_path)
