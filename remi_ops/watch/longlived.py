"""What is alive once a watcher has started lives as long as the process: out of the
collector's full passes.

A full (generation-2) garbage collection walks every object the collector tracks. After
start-up most of them are the modules, classes and functions of discord.py and
this package, alive until exit, so each full pass spent 30–45 ms walking them — holding the
GIL, in whichever thread triggered it. Under a flood of log lines that happened about six
times a minute, and every time Bubabot's event loop (discord.py's heartbeat on it) waited
for it: those pauses were the whole of its loop lag over 40 ms in ``bench_discord.py``
(``docs/loop.md``). ``gc.freeze`` moves what is alive now into a permanent generation that
no collection walks; what is made later is collected as before, and reference counting
still frees frozen objects that are dropped. The collection just before the freeze keeps
garbage out of it.
"""

from __future__ import annotations

import gc


def freeze_start_up_objects() -> int:
    """Collect once, then keep every object alive now out of later collections; returns
    how many objects were frozen. Call it once start-up is over, before serving."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def thaw() -> None:
    """Give the frozen objects back to the collector (a stopped app in a longer process)."""
    gc.unfreeze()
