"""The watcher of ``remi-ops watch``, run until SIGINT/SIGTERM.

Imported by :mod:`remi_ops.cli.watchcmd` once it has decided whether ``ssl`` stays out:
this module and the watcher's import ``asyncio``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from remi_ops import host
from remi_ops.alerts.outbox import Sink
from remi_ops.alerts.sink_plugins import connect_replies
from remi_ops.cli.common import EXIT_OK
from remi_ops.config import Settings
from remi_ops.host.malloc_arenas import limit_malloc_arenas
from remi_ops.watch.longlived import freeze_start_up_objects
from remi_ops.watch.watcher import Watcher


def run_watcher(settings: Settings, plugin_sinks: Sequence[Sink]) -> int:
    """Watch every target until a stop signal, printing each notification on the console
    and posting it through ``plugin_sinks`` too."""
    limit_malloc_arenas()  # before the first worker thread: less RSS with many targets
    watcher = Watcher(settings, extra_sinks=plugin_sinks)
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
