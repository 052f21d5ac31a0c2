"""Fewer glibc malloc arenas for a long-running watcher: its RSS with many targets.

glibc gives a thread that allocates its own malloc arena (up to 8 per core), and an
arena keeps the memory its thread freed for that thread. The watcher's thread pools
(checks up to 8, deaths 4, scans 4, asyncio's default pool) each touch one, so a watcher
of 200 targets held about 5 MB more RSS than with two arenas (docs/scale.md, "Memory").
The threads mostly run Python under the GIL, so they seldom allocate at the same instant
and sharing two arenas costs them nothing measurable.

``MALLOC_ARENA_MAX=2`` in the environment does the same but must be set before the process
starts (a unit file, a shell); ``mallopt`` sets it from inside, and arenas are created
lazily, so it holds for every thread started after the call. Elsewhere (macOS, musl, a
libc without ``mallopt``) it does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

#: glibc's ``M_ARENA_MAX`` (malloc.h)
M_ARENA_MAX = -8
#: arenas for the whole process: the main one and one shared by every worker thread
WATCHER_ARENAS = 2


def limit_malloc_arenas(arenas: int = WATCHER_ARENAS) -> bool:
    """At most ``arenas`` malloc arenas from now on (glibc); True if the libc took it.

    Call it before the first worker thread starts: a thread that already has an arena
    keeps it.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own symbols: its libc's
    except (OSError, AttributeError):  # a libc without mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    taken = bool(mallopt(M_ARENA_MAX, arenas))
    if not taken:
        log.debug("mallopt(M_ARENA_MAX, %d) refused; malloc arenas left as they are", arenas)
    return taken
