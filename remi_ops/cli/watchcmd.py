"""``remi-ops watch``: the headless watchdog (what launchd + watchdog.sh did, done right).

Apart from the other subcommands (:mod:`remi_ops.cli.subcommands`): a watcher runs for
months, and every module it imports stays in its RSS all that time (issue 12).
"""

from __future__ import annotations

import argparse
import asyncio
import os

from remi_ops import host
from remi_ops.alerts.sink_plugins import connect_replies, extra_sinks
from remi_ops.cli.common import EXIT_OK
from remi_ops.config import Settings
from remi_ops.host.malloc_arenas import limit_malloc_arenas
from remi_ops.watch.longlived import freeze_start_up_objects
from remi_ops.watch.watcher import Watcher


def cmd_watch(settings: Settings, args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM, printing each notification on the console (and posting it
    through the plug-in sinks configured, e.g. a Discord webhook)."""
    del args
    limit_malloc_arenas()  # before the first worker thread: less RSS with many targets
    watcher = Watcher(settings, extra_sinks=extra_sinks(settings, os.environ))
    connect_replies(watcher.outbox)
    freeze_start_up_objects()  # imports, settings, the watcher: alive until exit
    try:
        watcher.acquire_locks()
        asyncio.run(_watch(watcher))
    finally:
        watcher.close()
    return EXIT_OK


async def _watch(watcher: Watcher) -> None:
    stopping = asyncio.Event()
    host.on_stop_signals(asyncio.get_running_loop(), stopping.set)
    for watch in watcher.watches.values():
        how = " ".join(watch.target.command) or watch.target.manager
        print(f"remi-ops: watching {watch.name} ({how})", flush=True)
    await watcher.run(stopping)


