"""One read of ``/proc/<pid>/stat``: what a check asks of a process, in one system call.

A check looks at every process of the host a few times an interval (the shared table:
:mod:`~remi_ops.host.known_processes`) and at its own Remi every interval (is it still
the process we started? its state, CPU and memory: :func:`~remi_ops.host.identity.snapshot`).
Through psutil that was a ``stat``, a ``statm``, ``/proc/stat`` (the boot time) and
``/sys/devices/system/cpu/online`` (the CPU count, for ``cpu_percent``) per look, each
opened through Python's buffered ``open`` (an ``fstat``, an ``ioctl`` and an ``lseek``
more). One line of ``stat`` holds all of it: the parent, the state, the start in clock
ticks since boot (which names a process for good with its pid), the CPU ticks used and
the resident pages. Read with ``os.open``/``os.read``: three system calls.

Linux only; :func:`read_stat` is None where there is no such file (or no such process).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
#: the state letters of proc(5), as psutil names them (``psutil.STATUS_*``)
STATES = {"R": "running", "S": "sleeping", "D": "disk-sleep", "T": "stopped",
          "t": "tracing-stop", "Z": "zombie", "X": "dead", "x": "dead", "K": "wake-kill",
          "W": "waking", "I": "idle", "P": "parked"}


@dataclass(frozen=True)
class StatLine:
    """What one ``/proc/<pid>/stat`` says."""

    ppid: int
    #: the state letter (``S``, ``R``, ``Z`` …)
    state: str
    #: the start in clock ticks since boot: with the pid, one process for good
    started: int
    #: user + system CPU time used, in clock ticks
    cpu_ticks: int
    rss_pages: int
    #: what changes at an ``exec``: the name, and where the new program's stack and argv
    #: lie (``startstack``, ``arg_start``, ``arg_end``; 0 unless we may trace it)
    mark: bytes

    @property
    def status(self) -> str:
        """The state as psutil names it (``sleeping``, ``zombie`` …)."""
        return STATES.get(self.state, "?")

    @property
    def rss_bytes(self) -> int:
        return self.rss_pages * PAGE


def read_stat(pid: int, proc_dir: str = "/proc") -> StatLine | None:
    """The process's ``stat`` line, or None when there is no such process (any more)."""
    try:
        fd = os.open(f"{proc_dir}/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        raw = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
    return parse_stat(raw)


def parse_stat(raw: bytes) -> StatLine | None:
    """A ``stat`` line parsed (None if it is not one). The name may hold spaces and
    parentheses, so the fields are counted from the last ``)``."""
    close = raw.rfind(b")")
    fields = raw[close + 2:].split()  # fields[0] is field 3 of proc(5): the state
    if close < 0 or len(fields) < 22:
        return None
    mark = b" ".join((raw[raw.find(b"(") + 1:close], *fields[25:26], *fields[45:47]))
    return StatLine(ppid=int(fields[1]), state=fields[0].decode("ascii", "replace"),
                    started=int(fields[19]), cpu_ticks=int(fields[11]) + int(fields[12]),
                    rss_pages=int(fields[21]), mark=mark)
