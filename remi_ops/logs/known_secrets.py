"""Which exact values are secrets: the first thing the redactor replaces (anchors §4).

A value is known to be secret when a variable whose *name* looks secret holds it, in
Bubabot's own environment, in a target's ``env`` table or in a target's dotenv file(s)
(``[targets] env_files``; by default ``.env`` in the workdir when present), or when its
name is listed in ``secret_env``. Values shorter than :data:`MIN_SECRET_LEN` characters are
never used: "true", "1234" or a user name would be blanked out of every line.

Dotenv files are read with python-dotenv's ``dotenv_values`` (quotes, ``export``, multi-line
values), so what we redact is what Remi itself loads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from remi_ops.config import TargetSettings

#: shorter values are not redacted by exact value (too many false hits); patterns still run
MIN_SECRET_LEN = 8
#: the dotenv file read when a target names none
DEFAULT_ENV_FILE = ".env"
#: Variables whose values are secrets whatever their name looks like.
DEFAULT_SECRET_ENV = (
    "DISCORD_TOKEN",
    "REMI_DISCORD_TOKEN",
    "DISCORD_WEBHOOK_URL",
    "SOUNDCLOUD_CLIENT_ID",
    "SOUNDCLOUD_CLIENT_SECRET",
    "SOUNDCLOUD_OAUTH_TOKEN",
)
#: A variable name that says "secret" (matched case-insensitively anywhere in the name).
SECRET_NAME = re.compile(
    r"TOKEN|SECRET|KEY|PASSWORD|PASSWD|PASS|PWD|AUTH|COOKIE|SESSION|WEBHOOK|DSN|CREDENTIAL"
    r"|CLIENT_ID|PRIVATE|SIGNATURE|SALT|CERT", re.IGNORECASE)


#: Well-known variables whose names match :data:`SECRET_NAME` but hold a directory, a
#: socket or a session id (found using the watcher: ``PWD`` blanked every path under the
#: current directory out of a stuck stack).
NOT_SECRET_NAMES = frozenset({
    "PWD", "OLDPWD", "XAUTHORITY", "SSH_AUTH_SOCK", "GPG_AGENT_INFO", "SESSION_MANAGER",
    "DESKTOP_SESSION", "XDG_SESSION_ID", "XDG_SESSION_TYPE", "XDG_SESSION_CLASS",
    "XDG_SESSION_DESKTOP", "DBUS_SESSION_BUS_ADDRESS", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "KEYTIMEOUT",
})


def looks_secret(name: str) -> bool:
    """True for ``OPENAI_API_KEY``, ``db_password``, ``SENTRY_DSN``, ``session_cookie`` …;
    never for :data:`NOT_SECRET_NAMES` (``PWD`` is the working directory)."""
    return name.upper() not in NOT_SECRET_NAMES and SECRET_NAME.search(name) is not None


def secret_values(target: TargetSettings | None, environ: Mapping[str, str],
                  config: Iterable[str] = ()) -> tuple[str, ...]:
    """Every exact secret value to redact for ``target``, longest first; ``config`` are the
    settings that are credentials (:func:`config_secrets`).

    Reads the target's dotenv file(s): call it off the event loop.
    """
    listed = set(DEFAULT_SECRET_ENV)
    sources: list[Mapping[str, str]] = [environ]
    if target is not None:
        listed.update(target.secret_env)
        sources.append(target.env)
        sources += [read_env_file(path) for path in env_files(target)]
    values = {value for source in sources for name, value in source.items()
              if name in listed or looks_secret(name)}
    return usable(values | set(config))


def config_secrets(heartbeat_url: str) -> tuple[str, ...]:
    """Secrets that live in the TOML file rather than the environment: the dead-man ping URL
    (``[watchdog] heartbeat_url``; whoever has it can ping "all well"), whole and its path
    alone (the credential, whatever host it is shown with)."""
    path = urlsplit(heartbeat_url).path.strip("/")
    return usable(v for v in (heartbeat_url, path) if v)


def usable(values: Iterable[str]) -> tuple[str, ...]:
    """The values long enough to redact by exact value, longest first (a secret that
    contains another is replaced whole)."""
    kept = {v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LEN
            and not _is_a_path(v)}
    return tuple(sorted(kept, key=lambda v: (-len(v), v)))


def _is_a_path(value: str) -> bool:
    """An absolute path that exists is a place, not a secret (``KEY_DIR=/etc/keys``):
    redacting it would blank every file name under it; the patterns still run."""
    if not value.startswith("/") or "\n" in value:
        return False
    try:
        return Path(value).exists()
    except (OSError, ValueError):
        return False


def env_files(target: TargetSettings) -> tuple[Path, ...]:
    """The target's dotenv files: as configured (relative to workdir), else ``.env``."""
    if target.env_files is None:
        default = target.workdir / DEFAULT_ENV_FILE
        return (default,) if default.is_file() else ()
    return tuple(p if p.is_absolute() else target.workdir / p for p in target.env_files)


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` pairs of one dotenv file; {} when it is missing or unreadable."""
    from dotenv import dotenv_values  # noqa: PLC0415 - here: only a target with a .env needs it

    try:
        if not path.is_file():
            return {}
        values = dotenv_values(path, interpolate=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    return {k: v for k, v in values.items() if v is not None}
