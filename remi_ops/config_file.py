"""Reading the configuration: where it is looked for, TOML → validated ``Settings``.

Every problem is reported as ``path.to.field: problem``; the CLIs turn a ``ConfigError``
into those lines on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from remi_ops.config import Settings
from remi_ops.exceptions import ConfigError

if TYPE_CHECKING:
    from remi_ops.config_problems import Problem

ENV_CONFIG = "BUBABOT_CONFIG"
DEFAULT_CONFIG = Path("config/bubabot.toml")
PYTHON_PLACEHOLDER = "{python}"
#: the documented example, shipped in the package (``config/`` links to it in a checkout)
EXAMPLE_NAME = "bubabot.example.toml"


def _expand(value: str, base: Path | None) -> Path:
    path = Path(value).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    return path


def _resolve_paths(raw: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Expand ``~``, resolve relative paths (watchdog against the file, targets against workdir
    in ``TargetSettings``); ``{python}`` in a command."""
    wd = raw.get("watchdog")
    if isinstance(wd, dict) and isinstance(wd.get("state_dir"), str):
        wd["state_dir"] = _expand(wd["state_dir"], base_dir)
    for target in raw.get("targets") or []:
        if not isinstance(target, dict):
            continue
        if isinstance(target.get("workdir"), str):
            target["workdir"] = _expand(target["workdir"], base_dir)
        if isinstance(target.get("command"), list):
            target["command"] = [sys.executable if a == PYTHON_PLACEHOLDER else a
                                 for a in target["command"]]
        scan = target.get("scan_test")
        if isinstance(scan, dict) and isinstance(scan.get("command"), list):
            scan["command"] = [sys.executable if a == PYTHON_PLACEHOLDER else a
                               for a in scan["command"]]
    return raw


def _format_errors(problems: list[Problem], raw: Mapping[str, Any]) -> list[str]:
    """``path.to.field: problem`` lines; a target named by its name when it has one
    (``targets[remi].restart.backoff_max_s``), a list's items by index (``….0``)."""
    lines = []
    for where, what in problems:
        loc: list[str | int] = list(where)
        if len(loc) >= 2 and loc[0] == "targets" and isinstance(loc[1], int):
            targets = raw.get("targets") or []
            name = targets[loc[1]].get("name") if loc[1] < len(targets) and isinstance(
                targets[loc[1]], dict) else None
            loc[1] = f"[{name}]" if isinstance(name, str) else f"[{loc[1]}]"
        path = ".".join(str(p) for p in loc).replace(".[", "[")
        lines.append(f"{path or '(file)'}: {what}")
    return lines


def parse_settings(raw: Mapping[str, Any], *, base_dir: Path, source: str = "") -> Settings:
    """Validate an already-parsed TOML document."""
    if "token" in str(list(_walk_keys(raw))).lower():
        raise ConfigError([f"{k}: secrets come from the environment (DISCORD_TOKEN), "
                           "never the config file" for k in _walk_keys(raw)
                           if "token" in k.rsplit(".", 1)[-1].lower()], source)
    data = Settings.short_forms(_resolve_paths(_deepcopy(raw), base_dir))
    try:
        return Settings.parse(data)
    except msgspec.ValidationError as exc:
        # the first problem is msgspec's; the operator gets every one, in the file's words
        from remi_ops.config_problems import problems_of  # noqa: PLC0415 - only a refused file needs it

        found = problems_of(Settings, data) or [((), str(exc))]
        raise ConfigError(_format_errors(found, raw), source) from None


def load_settings(path: Path) -> Settings:
    """Read and validate a TOML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror})"], str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"], str(path)) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML ({exc})"], str(path)) from None
    return parse_settings(raw, base_dir=path.parent.resolve(), source=str(path))


def config_candidates(environ: Mapping[str, str], cwd: Path) -> list[Path]:
    """The files looked for, in order, when neither ``--config`` nor ``$BUBABOT_CONFIG`` names one.

    ``config/bubabot.toml`` under the current directory (a checkout), then the per-user
    ``$XDG_CONFIG_HOME/bubabot/bubabot.toml`` (``~/.config/…``), where ``config init`` writes.
    """
    config_home = Path(environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return [cwd / DEFAULT_CONFIG, config_home / "bubabot" / "bubabot.toml"]


def find_config(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str],
                cwd: Path) -> Path | None:
    """``--config``, else ``$BUBABOT_CONFIG``, else the first of :func:`config_candidates`."""
    if explicit:
        return Path(explicit)
    if environ.get(ENV_CONFIG):
        return Path(environ[ENV_CONFIG])
    return next((c for c in config_candidates(environ, cwd) if c.is_file()), None)


def no_config_found(environ: Mapping[str, str], cwd: Path) -> ConfigError:
    """The error when no configuration exists: what was looked for, and how to make one."""
    looked = ", ".join(str(c) for c in config_candidates(environ, cwd))
    return ConfigError([f"(file): no configuration found: no --config, no ${ENV_CONFIG}, and "
                        f"none of {looked}; `remi-ops config init` writes one"])


def example_config() -> str:
    """The example configuration that ships in the package, every field documented."""
    return (resources.files("remi_ops") / EXAMPLE_NAME).read_text(encoding="utf-8")


def _walk_keys(raw: Any, prefix: str = "") -> list[str]:
    keys: list[str] = []
    if isinstance(raw, Mapping):
        for k, v in raw.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if k != "env":  # a target's env table may legitimately name token variables
                keys.append(path)
                keys.extend(_walk_keys(v, path))
    elif isinstance(raw, list):
        for i, v in enumerate(raw):
            keys.extend(_walk_keys(v, f"{prefix}[{i}]"))
    return keys


def _deepcopy(raw: Any) -> Any:
    if isinstance(raw, Mapping):
        return {k: _deepcopy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_deepcopy(v) for v in raw]
    return raw
