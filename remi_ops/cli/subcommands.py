"""Where each ``remi-ops`` subcommand runs: its module is imported only when it runs.

Every module a watcher imports stays in its RSS for as long as it runs (issue 12), so
``remi-ops watch`` does not import the other subcommands' code: ``service`` (the
launchd/systemd files and their commands), ``config``, the alert and error admin,
``test-alert``, the status/health/control commands and the verbs' plumbing they share.
A test checks that every subcommand the parser knows is here and resolves.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from remi_ops.config import Settings

Command = Callable[["Settings", argparse.Namespace], int]
SettingsFreeCommand = Callable[[argparse.Namespace], int]

#: subcommands that run without loading the configuration (they read or write it themselves)
SETTINGS_FREE = {"config": "remi_ops.cli.configcmd:cmd_config"}
#: every other subcommand, as ``module:function``; the function takes (settings, args)
#: and returns the exit code
WITH_SETTINGS = {
    "watch": "remi_ops.cli.watchcmd:cmd_watch",
    **{name: f"remi_ops.cli.commands:cmd_{name.replace('-', '_')}"
       for name in ("status", "health", "start", "stop", "restart", "maintenance",
                    "scan-test")},
    **{name: f"remi_ops.cli.admin:cmd_{name}"
       for name in ("errors", "history", "alerts", "silence", "ack", "resolve", "doctor")},
    "service": "remi_ops.cli.service:cmd_service",
    "test-alert": "remi_ops.cli.testalert:cmd_test_alert",
}


def settings_free(name: str) -> SettingsFreeCommand | None:
    """The function of a subcommand that loads no configuration, or None."""
    where = SETTINGS_FREE.get(name)
    return None if where is None else cast(SettingsFreeCommand, _function(where))


def with_settings(name: str) -> Command:
    """The function of a subcommand that runs with the configuration loaded."""
    return cast(Command, _function(WITH_SETTINGS[name]))


def _function(where: str) -> Any:
    module, _, function = where.partition(":")
    return getattr(import_module(module), function)
