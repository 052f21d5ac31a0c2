"""Bubabot's own log (both binaries): where it goes, how it rotates, text or one JSON per line.

``--log-file PATH`` adds a size-rotated file (``--log-max-bytes``, ``--log-keep``: 10 MB × 5
by default), so a service left running for months never fills the disk; the terminal then
keeps only warnings, because a service manager's stdout/stderr files (launchd's
``StandardErrorPath``) are never rotated. ``--log-format json`` writes one JSON object per
line — ``time``, ``level``, ``logger``, ``message`` and every ``extra`` field (``target``
above all) as a key of its own, for ``jq`` and log shippers; in text the target shows as a
``[remi]`` prefix. Records are redacted where they are made; no formatter here adds
anything from the environment.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

from remi_ops.cli.common import add_option_once

LogFormat = Literal["text", "json"]
FORMATS: tuple[LogFormat, ...] = ("text", "json")
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_KEEP = 5
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: the name of every handler installed here, so a second ``main()`` in one process (the
#: tests) replaces them instead of logging each line twice
HANDLER_NAME = "bubabot-cli"


@dataclass(frozen=True)
class LogOptions:
    """What the command line said about Bubabot's own log."""

    verbose: bool = False
    file: Path | None = None
    format: LogFormat = "text"
    max_bytes: int = DEFAULT_MAX_BYTES
    keep: int = DEFAULT_KEEP

    @property
    def level(self) -> int:
        return logging.DEBUG if self.verbose else logging.INFO


def add_log_options(parser: argparse.ArgumentParser) -> None:
    """The logging options; absent unless given, so that one given before a subcommand is
    not reset by the subcommand's own copy of the option."""
    add_option_once(parser, "-v", "--verbose", action="store_true", help="debug logging")
    add_option_once(parser, "--log-file", type=Path, metavar="PATH",
                    help="also log to PATH, rotated by size (the terminal then shows only "
                    "warnings)")
    add_option_once(parser, "--log-format", choices=FORMATS,
                    help="text (default) or json: one JSON object per line")
    add_option_once(parser, "--log-max-bytes", type=_positive_int, metavar="N",
                    help=f"rotate the log file at N bytes (default {DEFAULT_MAX_BYTES})")
    add_option_once(parser, "--log-keep", type=_positive_int, metavar="N",
                    help=f"rotated files kept (default {DEFAULT_KEEP})")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def log_options(args: argparse.Namespace) -> LogOptions:
    """The options parsed by :func:`add_log_options`, defaults filled in."""
    return LogOptions(verbose=getattr(args, "verbose", False),
                      file=getattr(args, "log_file", None),
                      format=getattr(args, "log_format", "text"),
                      max_bytes=getattr(args, "log_max_bytes", DEFAULT_MAX_BYTES),
                      keep=getattr(args, "log_keep", DEFAULT_KEEP))


class TextFormatter(logging.Formatter):
    """The classic line, with ``[target]`` before the message when the record names one."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # logging's own name
        line = super().formatMessage(record)
        target = getattr(record, "target", None)
        if target:
            head, sep, message = line.partition(f"{record.name}: ")
            line = f"{head}{sep}[{target}] {message}"
        return line


def make_formatter(fmt: LogFormat) -> logging.Formatter:
    """``text``: :class:`TextFormatter`; ``json``: one object per line, ``time`` in UTC ISO
    8601, extras as keys (python-json-logger)."""
    if fmt == "json":
        # here, not at the top: python-json-logger costs RSS in a text-logging `watch`
        from pythonjsonlogger.json import JsonFormatter  # noqa: PLC0415

        return JsonFormatter("%(levelname)s %(name)s %(message)s", timestamp="time",
                             rename_fields={"levelname": "level", "name": "logger"})
    return TextFormatter()


def rotating_file_handler(path: Path, options: LogOptions) -> logging.Handler:
    """``path`` (its directory created), rotated at ``max_bytes`` keeping ``keep`` old files."""
    import logging.handlers  # noqa: PLC0415 - here: it imports pickle, unused without a file

    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=options.max_bytes, backupCount=options.keep, encoding="utf-8")
    handler.setFormatter(make_formatter(options.format))
    return handler


class StderrHandler(logging.StreamHandler[TextIO]):
    """To whatever ``sys.stderr`` is when a record comes (as ``logging.lastResort`` does):
    a handler that kept the stream of its day would write into a closed one once a caller
    swapped it (pytest's capture does, around every test)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        """Ignored: the stream is always the current ``sys.stderr``."""


def configure_logging(options: LogOptions) -> None:
    """Install the terminal handler (and the file, when asked) on the root logger.

    Handlers an earlier call installed are closed and replaced; others (pytest's) are kept.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    terminal = StderrHandler()
    terminal.setFormatter(make_formatter(options.format))
    handlers: list[logging.Handler] = [terminal]
    if options.file is not None:
        terminal.setLevel(max(logging.WARNING, options.level))
        handlers.append(rotating_file_handler(options.file, options))
    for handler in handlers:
        handler.set_name(HANDLER_NAME)
        root.addHandler(handler)
    root.setLevel(options.level)
