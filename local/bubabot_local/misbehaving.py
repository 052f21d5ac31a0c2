"""Bots that misbehave the ways issue 14 found, as script texts for a test or a benchmark
to run as Remi (``[sys.executable, "-c", script]`` or written to ``bot.py``)."""

from __future__ import annotations


def retitler(linger_s: float = 60) -> str:
    """Renames itself (``/proc/self/comm``, as ``prctl(PR_SET_NAME)`` does), then re-execs
    with another argv, as setproctitle or a bot's own ``!restart`` would leave it."""
    return f"""
import os, pathlib, sys, time
if "renamed" not in sys.argv:
    pathlib.Path("/proc/self/comm").write_text("remi-worker")
    os.execv(sys.executable, [sys.executable, "-c",
             "import pathlib, time; pathlib.Path('renamed').write_text('y'); "
             "time.sleep({linger_s})", "renamed"])
"""


def escaper(linger_s: float = 60) -> str:
    """Forks twice, each child leaving the tree (double fork + setsid): one execs a helper
    with its own argv, one keeps Remi's argv; each writes its pid to ``<name>.pid``."""
    return f"""
import os, pathlib, sys, time

def escape(name, helper):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            pathlib.Path(name + ".tmp").write_text(str(os.getpid()))
            os.rename(name + ".tmp", name + ".pid")
            if helper:
                os.execv(sys.executable, [sys.executable, "-c",
                                          "import time; time.sleep({linger_s})", "helper"])
            time.sleep({linger_s})
        os._exit(0)
    os.wait()

escape("helper", True)
escape("fork", False)
time.sleep({linger_s})
"""
