"""``remi-ops``: the runbook from a terminal, and the headless watchdog.

Exit codes: 0 ok / healthy, 1 problems (the old ``health_check.sh`` contract), 2 usage or
configuration errors — always one clear line, never a traceback. A state_dir that cannot be
written (read-only, full, not a directory) or a state database that cannot be used is a
problem, not a crash: one line naming the path, exit 1.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from remi_ops.cli import configcmd, service
from remi_ops.cli.common import (
    EXIT_PROBLEM,
    EXIT_USAGE,
    add_option_once,
    report_error,
    version_line,
)
from remi_ops.cli.envfile import load_env_file
from remi_ops.cli.logsetup import add_log_options, configure_logging, log_options
from remi_ops.config import Settings
from remi_ops.config_file import find_config, load_settings, no_config_found
from remi_ops.exceptions import RemiOpsError
from remi_ops.store.filesafety import prepare_state_dir

__all__ = ["build_parser", "main", "report_error"]  # report_error: bubabot's entry uses it

#: subcommands that run without loading the configuration (they read or write it themselves)
SETTINGS_FREE: dict[str, Callable[[argparse.Namespace], int]] = {
    "config": configcmd.cmd_config,
}
#: what a global option means when it was not given
GLOBAL_DEFAULTS = {"config": None, "json": False, "target": None, "env_file": None}
#: subcommands that need the configuration but not the state directory (``service install``
#: may run under sudo: it must not create the user's state_dir owned by root)
NO_STATE_DIR = frozenset({"service"})


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
    parser = argparse.ArgumentParser(prog="remi-ops", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=version_line("remi-ops"))
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
    service.add_parser(sub)
    configcmd.add_config_command(cmd("config", "check the configuration, or write the "
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


def load(args: argparse.Namespace) -> Settings:
    """The configuration that ``--config``/``$BUBABOT_CONFIG``/the usual places name; none
    found is a configuration error listing where it looked (never a silent local mode)."""
    path = find_config(args.config, os.environ, Path.cwd())
    if path is None:
        raise no_config_found(os.environ, Path.cwd())
    return load_settings(path)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(build_parser(), argv)
    log_opts = log_options(args)
    try:
        configure_logging(log_opts)
    except OSError as exc:
        print(f"remi-ops: --log-file {log_opts.file}: cannot write ({exc.strerror or exc})",
              file=sys.stderr)
        return EXIT_USAGE
    settings: Settings | None = None
    try:
        load_env_file(args.env_file)
        if args.command in SETTINGS_FREE:
            return SETTINGS_FREE[args.command](args)
        settings = load(args)
        if args.command not in NO_STATE_DIR:
            prepare_state_dir(settings)
        from remi_ops.cli.commands import COMMANDS  # noqa: PLC0415 - heavy imports after validation

        code: int = COMMANDS[args.command](settings, args)
        return code
    except (RemiOpsError, ValueError) as exc:
        return report_error("remi-ops", exc)
    except (OSError, sqlite3.DatabaseError) as exc:
        return report_storage_error("remi-ops", exc, settings)
    except OverflowError as exc:  # e.g. --since 99999999999w: past what a timedelta holds
        print(f"remi-ops: a duration or number given is too large to use ({exc})",
              file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def report_storage_error(prog: str, exc: OSError | sqlite3.DatabaseError,
                         settings: Settings | None) -> int:
    """One line naming the path the OS (or SQLite) refused, and exit 1.

    The operator's fix is on that path (free space, permissions, a mount), so that is what
    the line leads with; the traceback would only hide it.
    """
    state_dir = settings.state_dir if settings is not None else None
    if isinstance(exc, OSError) and exc.filename is not None:
        also = f" (and {exc.filename2})" if exc.filename2 is not None else ""
        print(f"{prog}: cannot use {exc.filename}{also}: {exc.strerror or exc}",
              file=sys.stderr)
    elif isinstance(exc, OSError):  # a failed write names no file (a full disk, say)
        print(f"{prog}: {exc.strerror or exc} (state_dir {state_dir or 'unknown'})",
              file=sys.stderr)
    else:
        print(f"{prog}: the state database in {state_dir or '(unknown path)'} cannot be "
              f"used: {exc}", file=sys.stderr)
    return EXIT_PROBLEM


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
