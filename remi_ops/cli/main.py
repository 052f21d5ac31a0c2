"""``remi-ops``: the runbook from a terminal, and the headless watchdog.

Exit codes: 0 ok / healthy, 1 problems (the old ``health_check.sh`` contract), 2 usage or
configuration errors — always one clear line, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from datetime import timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from remi_ops import host
from remi_ops.config import Settings, find_config, load_settings
from remi_ops.exceptions import ConfigError, LockHeld, RemiOpsError, UnknownTarget
from remi_ops.watch import spool

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2
#: entry points that provide settings when no file is found (``bubabot-local`` registers one)
DEFAULT_SETTINGS_GROUP = "remi_ops.default_settings"
DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
REQUEST_TIMEOUT_S = 90.0


class UsageError(RemiOpsError):
    """Bad arguments: exit 2 with this message."""


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``4h``, ``7d`` → seconds."""
    match = DURATION.match(text.strip().lower())
    if not match:
        raise UsageError(f"not a duration: {text!r} (use e.g. 90s, 15m, 4h, 7d)")
    return float(match.group(1)) * UNITS[match.group(2)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="remi-ops", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="TOML file (else $BUBABOT_CONFIG, else "
                        "config/bubabot.toml, else the bundled local mode)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    def cmd(name: str, help_text: str, *, target: bool = True, as_json: bool = False
            ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        if target:
            p.add_argument("--target", help="target name (default: the first)")
        if as_json:
            p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    cmd("status", "what is running and in which state", as_json=True)
    cmd("start", "start the target if it is not running")
    cmd("stop", "stop the target's whole process tree (no restarts until started)") \
        .add_argument("--reason", default="stopped from the command line")
    cmd("restart", "stop the whole tree and start again") \
        .add_argument("--reason", default="restarted from the command line")
    cmd("watch", "the headless watchdog (what launchd + watchdog.sh did, done right)",
        target=False)
    cmd("health", "check now: exit 0 healthy, 1 issues", as_json=True)
    cmd("errors", "error groups", as_json=True).add_argument(
        "--since", default="24h", help="e.g. 1h, 7d, or 'all'")
    cmd("scan-test", "run the /scan smoke test now: exit 0 passed, 1 otherwise", as_json=True)
    cmd("history", "incidents and restarts", as_json=True, target=False).add_argument(
        "--since", default="7d")
    silence = cmd("silence", "mute matching alerts for a while", target=False)
    silence.add_argument("matcher", help="label=glob[,label=glob] with labels target, kind, "
                         "fingerprint; e.g. target=remi,kind=error_group")
    silence.add_argument("duration", help="e.g. 1h (at most 7d)")
    silence.add_argument("--reason", required=True)
    cmd("ack", "acknowledge an alert (stops repeats)", target=False).add_argument(
        "alert", help="alert id, key (target/kind[/fingerprint]) or message key")
    cmd("alerts", "what is firing and what is silenced", as_json=True, target=False)
    return parser


def load(args: argparse.Namespace) -> Settings:
    path = find_config(args.config, os.environ, Path.cwd())
    if path is None:
        return bundled_settings()
    return load_settings(path)


def bundled_settings() -> Settings:
    """Settings a plug-in bundles for running without a file (Bubabot's local mode)."""
    for entry in entry_points(group=DEFAULT_SETTINGS_GROUP):
        factory = entry.load()
        settings: Settings = factory()
        return settings
    raise ConfigError(["(file): no configuration found (--config, $BUBABOT_CONFIG or "
                       "config/bubabot.toml; see config/bubabot.example.toml)"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse exits 2 on usage errors by itself
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load(args)
        from remi_ops.cli import commands as cli_commands  # noqa: PLC0415 - heavy imports after validation

        handler = getattr(cli_commands, "cmd_" + args.command.replace("-", "_"))
        code: int = handler(settings, args)
        return code
    except (RemiOpsError, ValueError) as exc:
        return report_error("remi-ops", exc)
    except KeyboardInterrupt:
        return 130


def report_error(prog: str, exc: RemiOpsError | ValueError) -> int:
    """One clear line per problem on stderr, never a traceback; the exit code it deserves.

    2 for configuration and usage errors (the caller must change something), 1 otherwise.
    """
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{prog}: {exc}", file=sys.stderr)
    return EXIT_USAGE if isinstance(exc, UsageError | UnknownTarget | ValueError) else EXIT_PROBLEM


def ask_watcher(settings: Settings, target: str, action: str, args: dict[str, Any],
                ) -> int:
    """Hand an action to the running watcher and print its answer."""
    request_id = spool.submit(settings.state_dir, target, action, args, "cli:" + _user())
    answer = spool.wait_answer(settings.state_dir, request_id, REQUEST_TIMEOUT_S)
    if answer is None:
        print(f"remi-ops: the watcher did not answer within {REQUEST_TIMEOUT_S:.0f}s",
              file=sys.stderr)
        return EXIT_PROBLEM
    print(answer["message"])
    return EXIT_OK if answer["ok"] else EXIT_PROBLEM


def watcher_running(settings: Settings, target: str) -> bool:
    """True when another process holds the target's singleton lock."""
    lock = host.TargetLock(settings.state_dir, target)
    try:
        lock.acquire()
    except LockHeld:
        return True
    lock.release()
    return False


def print_json(doc: Any) -> None:
    print(json.dumps(doc, indent=2, default=str))


def since_delta(text: str) -> timedelta | None:
    return None if text == "all" else timedelta(seconds=parse_duration(text))


def _user() -> str:
    return os.environ.get("USER", "unknown")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
