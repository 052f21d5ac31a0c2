"""Fewer glibc malloc arenas for a long-running watcher, and start-up's freed heap given
back: its RSS with many targets.

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

Start-up (parsing the configuration, building the models, adopting or starting every
target) frees much of what it allocated, but glibc keeps freed heap pages mapped unless
they sit at the very top of the heap: ``malloc_trim(0)`` once start-up is over gives the
whole free pages back (1.4 MB at 1 target, 2.3 MB at 200 in docs/scale.md, "Memory").
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


def return_free_heap() -> bool:
    """Give the free pages of every malloc arena back to the OS (glibc's ``malloc_trim``);
    True if some memory was released. Call it once after start-up, off the event loop: it
    walks the heap (a few ms).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # musl and others: nothing to give back this way
        return False
    malloc_trim.argtypes, malloc_trim.restype = (ctypes.c_size_t,), ctypes.c_int
    return bool(malloc_trim(0))
