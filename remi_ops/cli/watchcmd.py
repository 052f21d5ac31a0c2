"""``remi-ops watch``: the headless watchdog (what launchd + watchdog.sh did, done right).

Apart from the other subcommands (:mod:`remi_ops.cli.subcommands`): a watcher runs for
months, and every module it imports stays in its RSS all that time (issue 12). Its
plug-in sinks are found first, then ``ssl`` is left out if nothing configured may use
TLS (:mod:`remi_ops.cli.tls_features`), and only then is the watcher, with ``asyncio``,
imported (:mod:`remi_ops.cli.watchrun`).
"""

from __future__ import annotations

import argparse
import os

from remi_ops.alerts.sink_plugins import extra_sinks
from remi_ops.cli.tls_features import leave_ssl_out
from remi_ops.config import Settings


def cmd_watch(settings: Settings, args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM, printing each notification on the console (and posting it
    through the plug-in sinks configured, e.g. a Discord webhook)."""
    del args
    plugin_sinks = extra_sinks(settings, os.environ)
    leave_ssl_out(settings, plugin_sinks)
    from remi_ops.cli.watchrun import run_watcher  # noqa: PLC0415 - it imports asyncio: after leave_ssl_out

    return run_watcher(settings, plugin_sinks)
