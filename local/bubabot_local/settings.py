"""The bundled local-mode configuration: supervise the Remi simulator, not a real bot.

Used by local mode (``bubabot --local``, ``make run``), so it works on a fresh machine with
no token and no Remi installed. Faster checks and a shorter hang threshold than production so a
person can watch a freeze being healed within a minute.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from remi_ops.config import Settings
from remi_ops.config_file import parse_settings

ENV_STATE_DIR = "BUBABOT_STATE_DIR"
SIMULATOR = "bubabot_local.remi_sim"


def local_state_dir(environ: Mapping[str, str]) -> Path:
    """``$BUBABOT_STATE_DIR``, else the per-user ``$XDG_STATE_HOME/bubabot/local``
    (``~/.local/state/bubabot/local``): never the current directory, which may be a
    checkout, a home directory or somewhere read-only."""
    if environ.get(ENV_STATE_DIR):
        return Path(environ[ENV_STATE_DIR]).expanduser()
    state_home = Path(environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state_home / "bubabot" / "local"


def local_settings(state_dir: Path | None = None, *, discord: dict[str, object] | None = None,
                   remi_args: Sequence[str] = (), remi_env: Mapping[str, str] | None = None
                   ) -> Settings:
    """Settings for one simulated target under ``state_dir`` (default :func:`local_state_dir`).

    ``remi_args``/``remi_env`` extend the simulator's command line and environment: Bubabot's
    local mode adds ``--discord`` and the emulator's address so the simulator joins it.
    """
    state = (state_dir or local_state_dir(os.environ)).resolve()
    workdir = state / "remi-sim"
    workdir.mkdir(parents=True, exist_ok=True)
    raw: dict[str, object] = {
        "watchdog": {"check_interval_s": 15, "state_dir": str(state)},
        "targets": [{
            "name": "remi",
            "workdir": str(workdir),
            "command": [sys.executable, "-m", SIMULATOR, "run", *remi_args],
            "env": {"PYTHONUNBUFFERED": "1", "REMI_BEACON_INTERVAL_S": "1",
                    **(remi_env or {})},
            "watch_paths": ["packages"],
            "restart": {"stop_grace_s": 3, "stable_after_s": 60, "budget_restarts": 10},
            "health": {"hang_threshold_s": 20, "beacon_stale_s": 10},
            "scan_test": {"command": [sys.executable, "-m", SIMULATOR, "scan",
                                      "--url", "https://soundcloud.com/remi/local-test"],
                          "timeout_s": 20, "expect_pattern": "scan ok",
                          "latency_budget_s": 5},
        }],
        "alerts": {"group_wait_s": 5, "group_interval_s": 30, "keep_firing_for_s": 20},
        "discord": discord or {},
    }
    return parse_settings(raw, base_dir=state, source="<bundled local mode>")
