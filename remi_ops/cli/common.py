"""What every ``remi-ops`` subcommand shares: exit codes, errors, output, who is asking."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from remi_ops.durations import parse_duration
from remi_ops.exceptions import ConfigError, RemiOpsError, UnknownTarget, WatcherError

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2
#: the distribution both binaries ship in: ``--version`` reports its version
DISTRIBUTION = "bubabot"


class UsageError(RemiOpsError):
    """Bad arguments: exit 2 with this message."""


def report_error(prog: str, exc: RemiOpsError | ValueError) -> int:
    """One clear line per problem on stderr, never a traceback; the exit code it deserves.

    2 for configuration and usage errors (the caller must change something), 1 otherwise.
    """
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{prog}: {exc}", file=sys.stderr)
    usage = isinstance(exc, UsageError | UnknownTarget | ValueError) or (
        isinstance(exc, WatcherError) and exc.usage)
    return EXIT_USAGE if usage else EXIT_PROBLEM


def exit_code(ok: bool) -> int:
    return EXIT_OK if ok else EXIT_PROBLEM


def print_json(doc: Any) -> None:
    print(json.dumps(doc, indent=2, default=str))


def print_lines(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)


def since_delta(text: str) -> timedelta | None:
    """``--since`` as a window: ``24h`` → 24 hours, ``all`` → None (everything)."""
    return None if text == "all" else timedelta(seconds=parse_duration(text))


def who() -> str:
    """How the command line's person appears in history and alerts."""
    try:
        name = getpass.getuser()  # $LOGNAME/$USER, else the password database
    except (KeyError, OSError):  # a uid with no name (some containers)
        name = "unknown"
    return "cli:" + name


def version_line(prog: str) -> str:
    """``remi-ops 0.1.0``: the installed ``bubabot`` distribution's version.

    ``importlib.metadata`` (with ``email`` and ``zipfile``, about 2 MB of RSS) is imported
    here, when a version is asked for, not by every command that shares this module.
    """
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415 - see above

    try:
        return f"{prog} {version(DISTRIBUTION)}"
    except PackageNotFoundError:  # run from a checkout that was never installed
        return f"{prog} (version unknown: the {DISTRIBUTION} distribution is not installed)"


def add_option_once(parser: argparse.ArgumentParser, *flags: str, **kwargs: Any) -> None:
    """Add an option unless the parser already has one of its flags (then that one stays,
    but absent unless given, so it cannot reset a value given before the subcommand)."""
    existing = parser._option_string_actions  # private, but argparse has no public lookup
    taken = [existing[f] for f in flags if f in existing]
    for action in taken:
        action.default = argparse.SUPPRESS
    if not taken:
        parser.add_argument(*flags, default=argparse.SUPPRESS, **kwargs)
