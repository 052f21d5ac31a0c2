"""A bot that logs the incident's NameError on request, at a chosen rate, for error-intake
tests and ``bench/bench_errors.py``.

It logs the way discord.py's docs show: ``logging`` with discord.py's layout, to stderr,
or to a file of its own (``python bot.py discord.log`` is ``FileHandler('discord.log')``).
Write ``"<rate> <count>"`` to ``go`` in its workdir (atomically: :func:`request_errors`)
and it logs ``count`` tracebacks at ``rate`` per second, then ``done <n>`` to ``done``.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from remi_ops.config import Settings
from remi_ops.config_file import parse_settings

ERROR_BOT = """
import logging, os, pathlib, sys, time
where = sys.argv[1] if len(sys.argv) > 1 else ""
handler = logging.FileHandler(where) if where else logging.StreamHandler(sys.stderr)
handler.setFormatter(logging.Formatter("[{asctime}] [{levelname:<8}] {name}: {message}",
                                       "%Y-%m-%d %H:%M:%S", style="{"))
log = logging.getLogger("remi.scoring")
log.addHandler(handler)
log.setLevel(logging.INFO)

def score_batch_async():
    return asyncio.gather()  # the incident: asyncio is not imported

go, done, sent = pathlib.Path("go"), pathlib.Path("done"), 0
while True:
    if go.exists():
        rate, count = go.read_text().split()
        go.unlink()
        pause = 1 / float(rate)
        start = time.monotonic()
        for i in range(int(count)):
            try:
                score_batch_async()
            except NameError:
                log.exception("Ignoring exception in command 'scan'")
            sent += 1
            late = start + (i + 1) * pause - time.monotonic()
            if late > 0:
                time.sleep(late)
        pathlib.Path("done.tmp").write_text(f"done {sent}")
        os.replace("done.tmp", done)
    time.sleep(0.02)
"""


def error_bot_settings(tmp: Path, *args: str, **target: Any) -> Settings:
    """Settings for one target running the error bot (``args``: its log file, if any),
    checked only every 10 minutes so a prompt alert cannot come from the scheduled check."""
    workdir = tmp / "remi"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "bot.py").write_text(textwrap.dedent(ERROR_BOT), encoding="utf-8")
    raw = {"watchdog": {"check_interval_s": 600, "heartbeat_stale_s": 1800,
                        "state_dir": str(tmp / "state")},
           "targets": [{"name": "remi", "workdir": str(workdir),
                        "command": [sys.executable, "bot.py", *args],
                        "restart": {"stop_grace_s": 2, "start_seconds": 0.5}, **target}],
           "alerts": {"group_wait_s": 2, "group_interval_s": 0, "keep_firing_for_s": 0}}
    return parse_settings(raw, base_dir=tmp)


def error_bot_config(tmp: Path, *args: str, extra: str = "") -> Path:
    """:func:`error_bot_settings` as a ``bubabot.toml`` (for ``remi-ops --config``);
    ``extra`` is appended to the target's table (``logs = ["discord.log"]``)."""
    settings = error_bot_settings(tmp, *args)
    target = settings.targets[0]
    cfg = tmp / "bubabot.toml"
    cfg.write_text(f"""
[watchdog]
state_dir = "{settings.state_dir}"
check_interval_s = 600
heartbeat_stale_s = 1800

[[targets]]
name = "remi"
workdir = "{target.workdir}"
command = {json.dumps(list(target.command))}
{extra}
""", encoding="utf-8")
    return cfg


def request_errors(workdir: Path, rate: float, count: int) -> None:
    """Ask the running error bot for ``count`` NameErrors at ``rate`` per second."""
    (workdir / "done").unlink(missing_ok=True)
    tmp = workdir / "go.tmp"
    tmp.write_text(f"{rate} {count}", encoding="utf-8")
    tmp.replace(workdir / "go")


def errors_sent(workdir: Path) -> int | None:
    """How many errors the bot logged in all, once its last request is done."""
    try:
        return int((workdir / "done").read_text(encoding="utf-8").split()[1])
    except (OSError, IndexError, ValueError):
        return None


def alert_lines(settings: Settings) -> list[dict[str, Any]]:
    """The ``.bot_alert`` lines written so far."""
    path = settings.targets[0].alert_file
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
