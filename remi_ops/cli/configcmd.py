"""``remi-ops config check`` and ``remi-ops config init``: the configuration before it runs.

``check`` validates the file the other commands would use (``--config``, else
``$BUBABOT_CONFIG``, else the usual places) and names it: exit 0 with ``config ok: <path>
(N targets: …)``, or exit 2 with one ``path.to.field: problem`` line each. Things that
are legal but will not work yet (a workdir that does not exist, a program not found, no
Discord channel for the bot) are warnings: a config is often written before the machine
is ready, so they never fail the check.

``init`` writes the example configuration that ships in the package, every field
documented, to the per-user file the other commands find on their own; it never
overwrites without ``--force``. The file is 0600: it holds no token, but a dead-man ping
URL (``heartbeat_url``) is a credential of sorts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from remi_ops.atomicfile import write_atomically
from remi_ops.cli.common import EXIT_OK, EXIT_USAGE, UsageError, print_json
from remi_ops.config import Settings, TargetSettings
from remi_ops.config_file import (
    config_candidates,
    example_config,
    find_config,
    load_settings,
    no_config_found,
)
from remi_ops.exceptions import ConfigError

CONFIG_MODE = 0o600


def cmd_config(args: argparse.Namespace) -> int:
    if args.config_action == "init":
        return cmd_init(args)
    return cmd_check(args)


# ---------------------------------------------------------------------------- check


def cmd_check(args: argparse.Namespace) -> int:
    cwd = Path.cwd()
    path = find_config(args.config, os.environ, cwd)
    if path is None:
        raise no_config_found(os.environ, cwd)
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        if args.json:
            print_json({"ok": False, "path": str(path), "problems": list(exc.problems)})
        else:
            for problem in exc.problems:
                print(f"config error: {problem}", file=sys.stderr)
            print(f"config invalid: {path} ({_count(len(exc.problems), 'problem')})",
                  file=sys.stderr)
        return EXIT_USAGE
    warnings = config_warnings(settings)
    names = [t.name for t in settings.targets]
    if args.json:
        print_json({"ok": True, "path": str(path), "targets": names, "warnings": warnings})
        return EXIT_OK
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"config ok: {path} ({_count(len(names), 'target')}: {', '.join(names)})")
    return EXIT_OK


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def config_warnings(settings: Settings) -> list[str]:
    """What is valid but will not work as it stands, one ``path: problem`` line each."""
    warnings = [line for target in settings.targets for line in _target_warnings(target)]
    state_dir = settings.state_dir
    if state_dir.exists() and not state_dir.is_dir():
        warnings.append(f"watchdog.state_dir: {state_dir} is not a directory")
    missing = [name for name in ("guild_id", "alert_channel_id")
               if not getattr(settings.discord, name)]
    if missing:
        warnings.append(f"discord.{missing[0]}: not set; `bubabot` needs "
                        f"{' and '.join(missing)} to run against Discord (`remi-ops watch` "
                        "does not)")
    return warnings


def _target_warnings(target: TargetSettings) -> list[str]:
    where = f"targets[{target.name}]"
    if not target.workdir.exists():
        return [f"{where}.workdir: {target.workdir} does not exist (yet)"]
    if not target.workdir.is_dir():
        return [f"{where}.workdir: {target.workdir} is not a directory"]
    if target.manager != "process" or not target.command:
        return []
    program = target.command[0]
    if _program_found(program, target.workdir):
        return []
    return [f"{where}.command: {program} not found (on PATH, or in {target.workdir})"]


def _program_found(program: str, workdir: Path) -> bool:
    """As the start will look for it: a path relative to the workdir, else on PATH."""
    if os.sep in program:
        found = workdir / Path(program).expanduser()
        return found.is_file() and os.access(found, os.X_OK)
    return shutil.which(program) is not None


# ---------------------------------------------------------------------------- init


def cmd_init(args: argparse.Namespace) -> int:
    cwd = Path.cwd()
    usual = config_candidates(os.environ, cwd)
    path: Path = (args.path or usual[-1]).expanduser().absolute()
    if path.is_dir():
        raise UsageError(f"{path} is a directory; name the file, e.g. {path / 'bubabot.toml'}")
    if path.exists() and not args.force:
        raise UsageError(f"{path} exists; not overwritten (--force replaces it with the "
                         "example; `remi-ops config check` checks it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, example_config())
    path.chmod(CONFIG_MODE)
    found_as_is = path in {c.absolute() for c in usual}
    if args.json:
        print_json({"written": str(path), "found_without_config_option": found_as_is})
        return EXIT_OK
    how = "" if found_as_is else f" --config {path}"
    print(f"wrote {path} (the example configuration, every field explained)")
    print("next:")
    print("  1. edit it: [[targets]] workdir and command (your Remi), [discord] guild_id "
          "and alert_channel_id (for the bot); secrets stay in the environment")
    print(f"  2. remi-ops{how} config check")
    print(f"  3. remi-ops{how} watch   (or run it as a service: `remi-ops{how} service "
          "install`)")
    if not found_as_is:
        print(f"  ({path} is not where remi-ops looks on its own: pass --config, or set "
              "$BUBABOT_CONFIG)")
    return EXIT_OK
