"""The command line's grammar: every ``remi-ops`` subcommand and its options.

Built without importing any subcommand's code, so that the parser costs a watch nothing
it does not run (issue 12: its RSS): each subcommand's module is imported where it runs
(:mod:`remi_ops.cli.subcommands`); even ``--version`` reads the installed version (and
imports ``importlib.metadata``) only when it is asked for.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from remi_ops.cli.common import add_option_once, version_line
from remi_ops.cli.logsetup import add_log_options
from remi_ops.deploy.paths import MANAGERS

#: what ``remi-ops --help`` says it is
DESCRIPTION = "``remi-ops``: the runbook from a terminal, and the headless watchdog."
#: what a global option means when it was not given
GLOBAL_DEFAULTS = {"config": None, "json": False, "target": None, "env_file": None}


class VersionAction(argparse.Action):
    """``--version``: print ``remi-ops <version>`` and exit, the version read only now."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: Any = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(version_line(parser.prog))
        parser.exit()


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--json`` and the logging options, on the main parser and on every
    subcommand: ``remi-ops --json status`` and ``remi-ops status --json`` are the same."""
    add_option_once(parser, "--config", metavar="PATH", help="TOML file (else "
                    "$BUBABOT_CONFIG, else config/bubabot.toml, else "
                    "~/.config/bubabot/bubabot.toml)")
    add_option_once(parser, "--json", action="store_true", help="machine-readable output "
                    "(commands that have one)")
    add_option_once(parser, "--env-file", metavar="PATH", help="read secrets (KEY=value "
                    "lines) from this file, which must be chmod 600 (what a launchd service "
                    "uses)")
    add_log_options(parser)


def share_global_options(parser: argparse.ArgumentParser) -> None:
    """Give every subcommand (and theirs, however they were added) the global options."""
    for action in parser._actions:  # argparse lists subparsers nowhere public
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                add_global_options(child)
                share_global_options(child)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="remi-ops", description=DESCRIPTION)
    parser.add_argument("--version", action=VersionAction,
                        help="show program's version number and exit")
    add_global_options(parser)
    add_option_once(parser, "--target", help="target name (default: the first; for the "
                    "commands that act on one)")
    sub = parser.add_subparsers(dest="command", required=True)

    def cmd(name: str, help_text: str, *, target: bool = True, as_json: bool = False
            ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        if target:
            add_option_once(p, "--target", help="target name (default: the first)")
        # which of the options that may come before the subcommand apply to it
        p.set_defaults(applies=frozenset(
            {"target"} if target else set()) | frozenset({"json"} if as_json else set()))
        return p

    cmd("status", "what is running and in which state", as_json=True)
    cmd("start", "start the target if it is not running (ends a stop)", as_json=True)
    cmd("stop", "stop the target's whole process tree (no restarts until started)",
        as_json=True).add_argument("--reason", default="stopped from the command line")
    cmd("restart", "stop the whole tree and start again", as_json=True) \
        .add_argument("--reason", default="restarted from the command line")
    maintenance = cmd("maintenance", "hands off for a while: no restarts, no alerts",
                      as_json=True)
    maintenance.add_argument("duration", help="e.g. 30m, 4h; or 'end' to end it now")
    maintenance.add_argument("--reason", default="maintenance from the command line")
    cmd("watch", "the headless watchdog (what launchd + watchdog.sh did, done right)",
        target=False)
    cmd("health", "check now: exit 0 healthy, 1 issues", as_json=True)
    errors = cmd("errors", "error groups", as_json=True)
    errors.add_argument("--since", default="24h", help="e.g. 1h, 7d, or 'all'")
    errors.add_argument("--file", type=Path, metavar="LOG", help="read this log file whole "
                        "instead (e.g. a bot_error.log from before Bubabot watched it; "
                        "nothing is stored; a big file is read on every core)")
    cmd("scan-test", "run the /scan smoke test now: exit 0 passed, 1 otherwise", as_json=True)
    cmd("resolve", "mark an error group fixed: if it happens again, it is a regression",
        as_json=True).add_argument("fingerprint", help="as `remi-ops errors` shows it")
    cmd("history", "incidents and restarts (default: of every target)", as_json=True) \
        .add_argument("--since", default="7d", help="e.g. 1h, 7d, or 'all'")
    silence = cmd("silence", "mute matching alerts for a while", target=False, as_json=True)
    silence.add_argument("matcher", help="label=glob[,label=glob] with labels target, kind, "
                         "fingerprint; e.g. target=remi,kind=error_group")
    silence.add_argument("duration", help="e.g. 1h (at most 7d)")
    silence.add_argument("--reason", required=True)
    cmd("ack", "acknowledge an alert (stops repeats)", target=False, as_json=True).add_argument(
        "alert", help="alert id, key (target/kind[/fingerprint]) or message key")
    cmd("alerts", "what is firing and what is silenced", as_json=True, target=False)
    cmd("test-alert", "send a marked test notification through every sink: exit 0 when "
        "all delivered it", as_json=True)
    cmd("doctor", "the configuration against what runs (a log Remi writes, not watched)",
        as_json=True)
    add_service_command(sub)
    add_config_command(cmd("config", "check the configuration, or write the "
                                     "example one", target=False, as_json=True))
    share_global_options(parser)
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse, fill in the global options not given, and refuse one that does not apply
    (``remi-ops --target x watch`` would otherwise watch every target, silently)."""
    args = parser.parse_args(argv)  # argparse exits 2 on usage errors by itself
    applies: frozenset[str] | None = getattr(args, "applies", None)
    for option in ("target", "json"):
        if applies is not None and option not in applies and hasattr(args, option):
            parser.error(f"--{option} does not apply to `{args.command}`")
    for dest, default in GLOBAL_DEFAULTS.items():
        if not hasattr(args, dest):
            setattr(args, dest, default)
    return args


def add_service_command(sub: Any) -> None:
    """Register ``service`` and its actions on ``remi-ops``'s subcommands."""
    service = sub.add_parser("service", help="run Bubabot as a launchd or systemd service "
                             "(print, install, uninstall, status)")
    actions = service.add_subparsers(dest="service_action", required=True)
    for name, help_text in (("print", "print the plist or unit file"),
                            ("install", "write and load it (retiring the old watchdog job)"),
                            ("uninstall", "unload and remove it (Remi keeps running)"),
                            ("status", "installed? running? an old watchdog job left? "
                             "exit 0 only when installed and running")):
        p = actions.add_parser(name, help=help_text)
        p.add_argument("--manager", choices=MANAGERS,
                       help="default: launchd on macOS, systemd elsewhere")
        p.add_argument("--bot", action="store_true",
                       help="the Discord bot (bubabot) instead of the headless watcher")
        p.add_argument("--system", action="store_true", help="start at boot, system-wide "
                       "(a LaunchDaemon or a system unit, run as you; needs sudo)")
        if name == "install":
            p.add_argument("--replace-old", action="store_true",
                           help="unload the old watchdog job (com.remi.watchdog) and move "
                           "its plist away, instead of only saying how")
        if name == "status":
            p.add_argument("--json", action="store_true", help="machine-readable output")


def add_config_command(parser: argparse.ArgumentParser) -> None:
    """``config check`` and ``config init [PATH] [--force]`` under ``parser``."""
    actions = parser.add_subparsers(dest="config_action", required=True)
    actions.add_parser("check", help="validate the configuration that would be used (exit 0 "
                       "ok, 2 with the problems); warn about what will not work yet")
    init = actions.add_parser("init", help="write the example configuration (default: the "
                              "per-user file, ~/.config/bubabot/bubabot.toml)")
    init.add_argument("path", nargs="?", type=Path, help="where to write it")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
