"""Which service, and where its files go: ``ServiceSpec`` and the per-manager locations.

One frozen value says everything the generators need (the interpreter, the config file,
the user, the home directory), so the plist and the unit are pure functions of it and a
test can point ``home`` at a temporary directory.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Manager = Literal["launchd", "systemd"]
MANAGERS: tuple[Manager, ...] = ("launchd", "systemd")

#: launchd labels and systemd unit names: scripts and docs rely on these
WATCH_LABEL, BOT_LABEL = "com.bubabot.watch", "com.bubabot.bot"
WATCH_UNIT, BOT_UNIT = "bubabot-watch.service", "bubabot-bot.service"
#: where system-wide files go (root writes them)
LAUNCH_DAEMONS = Path("/Library/LaunchDaemons")
SYSTEM_UNITS = Path("/etc/systemd/system")


def default_manager(platform: str = sys.platform) -> Manager:
    """launchd on macOS, systemd everywhere else."""
    return "launchd" if platform == "darwin" else "systemd"


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One service to write, load or look at.

    ``bot``: run ``bubabot`` itself instead of the headless ``remi-ops watch``.
    ``system``: start at boot as ``user`` (a LaunchDaemon, a system unit) instead of a
    per-user job (a LaunchAgent starts at login; a user unit needs lingering for boot).
    """

    manager: Manager
    config: Path  # absolute
    python: str  # the interpreter running now: it has remi_ops importable
    home: Path  # the home of ``user``
    user: str
    uid: int
    search_path: str  # PATH for the service (no secrets in it)
    bot: bool = False
    system: bool = False

    @property
    def name(self) -> str:
        """The launchd label or the systemd unit name."""
        if self.manager == "launchd":
            return BOT_LABEL if self.bot else WATCH_LABEL
        return BOT_UNIT if self.bot else WATCH_UNIT

    @property
    def role(self) -> str:
        """``watch`` or ``bot``: names the log files."""
        return "bot" if self.bot else "watch"

    @property
    def file(self) -> Path:
        """Where the plist or the unit is written."""
        if self.manager == "launchd":
            folder = LAUNCH_DAEMONS if self.system else self.home / "Library" / "LaunchAgents"
            return folder / f"{self.name}.plist"
        return (SYSTEM_UNITS if self.system else self.home / ".config" / "systemd" / "user") \
            / self.name

    @property
    def env_file(self) -> Path:
        """The ``0600`` file holding the secrets (DISCORD_TOKEN, DISCORD_WEBHOOK_URL, …)."""
        return env_file_of(self.home)

    @property
    def log_dir(self) -> Path:
        """launchd's stdout/stderr files go here (systemd's go to the journal)."""
        return self.home / "Library" / "Logs" / "bubabot"

    @property
    def launchd_domain(self) -> str:
        """``gui/<uid>`` for a LaunchAgent, ``system`` for a LaunchDaemon."""
        return "system" if self.system else f"gui/{self.uid}"

    @property
    def workdir(self) -> Path:
        """Where the service runs: beside its configuration."""
        return self.config.parent


def env_file_of(home: Path) -> Path:
    """``~/.config/bubabot/env``, beside the per-user configuration."""
    return home / ".config" / "bubabot" / "env"


def retired_dir(home: Path) -> Path:
    """Where an old job's plist is moved (kept, so it can be put back)."""
    return home / ".config" / "bubabot" / "retired"
