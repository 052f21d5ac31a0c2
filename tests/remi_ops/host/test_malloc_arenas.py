"""At most two glibc malloc arenas in a watcher, however many worker threads allocate.

Counted by glibc itself: ``malloc_stats()`` writes one ``Arena N:`` block per arena to
stderr. Six threads each make a large allocation (past pymalloc, into malloc) while the
others are alive, which gives each its own arena unless the limit holds.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")

THREADS_ALLOCATE = """
import ctypes, sys, threading
from remi_ops.host.malloc_arenas import limit_malloc_arenas

if sys.argv[1] == "limit":
    assert limit_malloc_arenas()
all_in = threading.Barrier(6)
kept = []

def allocate() -> None:
    kept.append(bytearray(200_000))  # malloc, not pymalloc: the thread's arena
    all_in.wait()  # alive together: none can hand its arena to the next

threads = [threading.Thread(target=allocate) for _ in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ctypes.CDLL(None).malloc_stats()
"""


def arenas_after_six_threads(*, limit: bool) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}  # glibc's default
    done = subprocess.run([sys.executable, "-c", THREADS_ALLOCATE,
                           "limit" if limit else "free"],
                          capture_output=True, text=True, timeout=60, check=True, env=env)
    return sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))


def test_the_limit_keeps_every_thread_in_two_arenas() -> None:
    unlimited = arenas_after_six_threads(limit=False)
    if unlimited == 0:
        pytest.skip("not glibc: no malloc_stats arenas to count")
    assert unlimited > 2  # the control: without the limit, the threads spread out
    assert arenas_after_six_threads(limit=True) == 2
