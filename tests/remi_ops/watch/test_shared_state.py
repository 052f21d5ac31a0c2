"""Two deployments sharing one ``state_dir`` and one target name are refused at start.

Found by ``bench/chaos.py``: staging's restart report went to prod's ``.bot_alert`` and
back (one outbox), and staging's ``remi-ops restart`` was picked up by prod's watcher (one
spool). Each Remi still had its own lock (workdir + command), so both watchers ran.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from remi_ops.config import Settings
from remi_ops.config_file import parse_settings
from remi_ops.exceptions import LockHeld, StateShared
from remi_ops.watch.watcher import Watcher


def deployment(tmp_path: Path, workdir: str) -> Settings:
    (tmp_path / workdir).mkdir(exist_ok=True)
    return parse_settings({"watchdog": {"state_dir": str(tmp_path / "state")},
                           "targets": [{"name": "remi", "workdir": str(tmp_path / workdir),
                                        "command": ["python", "bot.py"]}]},
                          base_dir=tmp_path)


def test_a_second_deployment_on_the_same_state_dir_and_name_is_refused(
        tmp_path: Path) -> None:
    prod = Watcher(deployment(tmp_path, "prod"), console=None, environ={})
    staging = Watcher(deployment(tmp_path, "staging"), console=None, environ={})
    again = Watcher(deployment(tmp_path, "prod"), console=None, environ={})
    try:
        prod.acquire_locks()
        with pytest.raises(StateShared, match="give each deployment its own state_dir"):
            staging.acquire_locks()
        with pytest.raises(LockHeld, match="already watched"):  # the same Remi: as before
            again.acquire_locks()
        staging.acquire_locks(["remi"])  # a verb acting on staging alone still may
    finally:
        for watcher in (prod, staging, again):
            watcher.close()
