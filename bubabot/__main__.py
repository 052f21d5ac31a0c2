"""``bubabot``: with DISCORD_TOKEN and a config, the real thing; ``--local``, local mode.

Local mode — asked for with ``--local`` (``make run`` does without a token), or when
``bubabot`` starts with neither ``DISCORD_TOKEN`` nor a config file — starts a local
Discord emulator, the Remi simulator as a real discord.py bot connected to it, and
Bubabot; the terminal shows #quick-tasks and takes slash commands, so a person can freeze
or kill the simulator and watch Bubabot heal it.
A config file without a token is a mistake (exit 2 saying so), not a reason to fall back.
Exit codes: 0 ok, 1 a problem, 2 usage or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from remi_ops.cli.common import EXIT_PROBLEM, EXIT_USAGE, version_line
from remi_ops.cli.envfile import load_env_file
from remi_ops.cli.logsetup import LogOptions, add_log_options, configure_logging, log_options
from remi_ops.cli.main import report_error
from remi_ops.config import Settings
from remi_ops.config_file import config_candidates, find_config, load_settings
from remi_ops.exceptions import ConfigError, RemiOpsError
from remi_ops.host.malloc_arenas import limit_malloc_arenas

EXIT_OK = 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bubabot", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=version_line("bubabot"))
    parser.add_argument("--config", metavar="PATH", help="TOML file (else $BUBABOT_CONFIG, else "
                        "config/bubabot.toml, else ~/.config/bubabot/bubabot.toml)")
    parser.add_argument("--local", action="store_true", help="local mode: an emulated "
                        "Discord and the Remi simulator, nothing real (no token needed)")
    parser.add_argument("--state-dir", type=Path, help="local mode: where state goes "
                        "(default $BUBABOT_STATE_DIR, else ~/.local/state/bubabot/local)")
    parser.add_argument("--no-console", action="store_true",
                        help="local mode: print #quick-tasks but do not read commands")
    parser.add_argument("--env-file", help="read secrets (DISCORD_TOKEN=…) from this file, "
                        "which must be chmod 600 (what a launchd service uses)")
    add_log_options(parser)
    return parser


def local_mode_wanted(args: argparse.Namespace) -> bool:
    """``--local``, or neither a token nor a config file; a config without a token is an
    error (the operator meant the real thing and forgot the token)."""
    if args.local:
        return True
    if os.environ.get("DISCORD_TOKEN"):
        return False
    path = find_config(args.config, os.environ, Path.cwd())
    if path is None:
        return True
    raise ConfigError([f"DISCORD_TOKEN: not set, and Bubabot found the configuration {path}: "
                       "set DISCORD_TOKEN to run against Discord with it, or pass --local "
                       "for local mode (an emulated Discord and the Remi simulator)"])


def real_settings(args: argparse.Namespace) -> Settings:
    path = find_config(args.config, os.environ, Path.cwd())
    if path is None:
        looked = ", ".join(str(c) for c in config_candidates(os.environ, Path.cwd()))
        raise ConfigError([f"(file): DISCORD_TOKEN is set, so Bubabot needs a configuration: "
                           f"no --config, no $BUBABOT_CONFIG, and none of {looked} "
                           "(`remi-ops config init` writes one)"])
    settings = load_settings(path)
    problems = [f"discord.{name}: required to run against Discord"
                for name in ("guild_id", "alert_channel_id")
                if not getattr(settings.discord, name)]
    if problems:
        raise ConfigError(problems, str(path))
    return settings


async def run_real(settings: Settings) -> None:
    from bubabot.app import build_app  # noqa: PLC0415 - discord imports after validation
    from remi_ops.host import on_stop_signals  # noqa: PLC0415 - after the config is valid

    app = build_app(settings, console=sys.stdout)
    stopping = asyncio.Event()
    on_stop_signals(asyncio.get_running_loop(), stopping.set)
    try:
        await app.start(os.environ["DISCORD_TOKEN"])
        await stopping.wait()
    finally:
        await app.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log = log_options(args)
    try:
        load_env_file(args.env_file)  # before deciding the mode: the token may be in it
        local = local_mode_wanted(args)
        # local mode writes its own log file in its state dir (or at --log-file) and
        # keeps the terminal for #quick-tasks; it installs that file itself
        configure_logging(dataclasses.replace(log, file=None) if local else log)
    except RemiOpsError as exc:
        return report_error("bubabot", exc)
    except OSError as exc:
        print(f"bubabot: --log-file {log.file}: cannot write ({exc.strerror or exc})",
              file=sys.stderr)
        return EXIT_USAGE
    logging.getLogger("discord").setLevel(logging.WARNING)
    limit_malloc_arenas()  # before the first worker thread: less RSS with many targets
    try:
        if local:
            run_local_mode(args, log)
        else:
            asyncio.run(run_real(real_settings(args)))
    except RemiOpsError as exc:
        return report_error("bubabot", exc)
    except OSError as exc:  # local mode's state dir or log file, refused by the OS
        print(f"bubabot: cannot use {exc.filename or 'a file'}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_PROBLEM
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK


def run_local_mode(args: argparse.Namespace, log: LogOptions) -> None:
    try:
        from bubabot_local.mode import run_local  # noqa: PLC0415 - only local mode needs the extra
    except ImportError:
        raise ConfigError(["DISCORD_TOKEN: not set, and local mode is not installed "
                           "(pip install 'bubabot[local]', or set DISCORD_TOKEN and "
                           "pass --config)"]) from None
    asyncio.run(run_local(state_dir=args.state_dir, interactive=not args.no_console,
                          config=args.config, log=log))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
