"""``bubabot``: with DISCORD_TOKEN and a config, the real thing; without, local mode.

Local mode (the embedded default) starts a local Discord emulator, the Remi simulator as a
real discord.py bot connected to it, and Bubabot; the terminal shows #quick-tasks and takes
slash commands, so a person can freeze or kill the simulator and watch Bubabot heal it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from remi_ops.cli.main import report_error
from remi_ops.config import Settings
from remi_ops.config_file import find_config, load_settings
from remi_ops.envfile import load_env_file
from remi_ops.exceptions import ConfigError, RemiOpsError

EXIT_OK = 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bubabot", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="TOML file (else $BUBABOT_CONFIG, else "
                        "config/bubabot.toml)")
    parser.add_argument("--state-dir", type=Path, help="local mode: where state goes "
                        "(default .state/local)")
    parser.add_argument("--no-console", action="store_true",
                        help="local mode: print #quick-tasks but do not read commands")
    parser.add_argument("--env-file", help="read secrets (DISCORD_TOKEN=…) from this file, "
                        "which must be chmod 600 (what a launchd service uses)")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def real_settings(args: argparse.Namespace) -> Settings:
    path = find_config(args.config, os.environ, Path.cwd())
    if path is None:
        raise ConfigError(["(file): DISCORD_TOKEN is set, so Bubabot needs a configuration "
                           "(--config, $BUBABOT_CONFIG or config/bubabot.toml; see "
                           "config/bubabot.example.toml)"])
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
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("discord").setLevel(logging.WARNING)
    try:
        load_env_file(args.env_file)
        if os.environ.get("DISCORD_TOKEN"):
            asyncio.run(run_real(real_settings(args)))
        else:
            try:
                from bubabot_local.mode import run_local  # noqa: PLC0415 - only local mode needs the extra
            except ImportError:
                raise ConfigError(["DISCORD_TOKEN: not set, and local mode is not installed "
                                   "(pip install 'bubabot[local]', or set DISCORD_TOKEN and "
                                   "pass --config)"]) from None
            asyncio.run(run_local(state_dir=args.state_dir, interactive=not args.no_console,
                                  config=args.config))
    except RemiOpsError as exc:
        return report_error("bubabot", exc)
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
