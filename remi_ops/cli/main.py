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
from collections.abc import Sequence
from pathlib import Path

from remi_ops.cli.common import EXIT_PROBLEM, EXIT_USAGE, report_error
from remi_ops.cli.envfile import load_env_file
from remi_ops.cli.logsetup import configure_logging, log_options
from remi_ops.cli.parser import build_parser, parse
from remi_ops.cli.subcommands import settings_free, with_settings
from remi_ops.config import Settings
from remi_ops.config_file import find_config, load_settings, no_config_found
from remi_ops.exceptions import RemiOpsError
from remi_ops.store.filesafety import prepare_state_dir

__all__ = ["build_parser", "main", "report_error"]  # report_error: bubabot's entry uses it

#: subcommands that need the configuration but not the state directory (``service install``
#: may run under sudo: it must not create the user's state_dir owned by root)
NO_STATE_DIR = frozenset({"service"})


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
        free = settings_free(args.command)
        if free is not None:
            return free(args)
        settings = load(args)
        if args.command not in NO_STATE_DIR:
            prepare_state_dir(settings)
        return with_settings(args.command)(settings, args)
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
