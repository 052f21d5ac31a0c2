"""The processes earlier passes saw: a pass over /proc that reads a process's argv once.

The round's shared process table (:func:`~remi_ops.host.proctable.shared_table`) is
taken about once a second while checks come due, and a pass through psutil reads two
files of every process on the host (its ``stat`` and its ``cmdline``), with a psutil
object around each: with 50 sleepers on a host of 500 processes that was most of an
idle check's CPU. A process's start time never changes, and its argv changes only
when it executes another program (or rewrites its title), so :class:`KnownProcesses`
keeps pid → (start time, name, argv) and a pass reads one file per process — its
``stat``, which it needs anyway for the parent (a parent can change: an orphan is
handed to init) — and the ``cmdline`` only of a process it has not seen.

What says "not the one seen before", so its argv is read again:

* another start time at that pid (a pid reused);
* an ``exec`` since (``bash start.sh`` or a Python launcher that ends in ``exec python
  main.py``: same pid, same start time): the exec mark changed — the name (``comm``),
  and where the new program's stack and argv lie (``startstack``, ``arg_start``,
  ``arg_end`` in ``stat``: a new stack at every exec, placed at random, its argv's
  length in it). The kernel shows those addresses only to whoever may trace the
  process: for every process a target could match (its user's, or any for root) they
  are there; for other users' processes the name is the mark;
* a process younger than :data:`YOUNG_S` — between ``fork`` and ``exec`` a child is a
  copy of its parent, and just after exec its argv is briefly empty;
* an argv read more than :data:`REREAD_S` ago — the bound for what no mark tells (a
  title rewritten in place).

Only the shared table, whose answers are reported and never acted on, uses it; what
adopts, starts, stops or signals takes a full psutil pass of its own
(:meth:`~remi_ops.host.proctable.ProcessTable.take`). Linux only (``/proc``):
:func:`known_processes` is None elsewhere and the shared table takes psutil passes.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from remi_ops.host.proc_stat import TICKS, read_stat

#: a process this young may still be between fork and exec: its argv is read every pass
YOUNG_S = 2.0
#: an argv read this long ago is read again (what the name cannot tell: an exec of the
#: same program with other arguments, a title rewritten)
REREAD_S = 60.0
_ENCODING = sys.getfilesystemencoding()


@dataclass
class Seen:
    """One process as a pass saw it."""

    pid: int
    ppid: int
    #: start time (epoch seconds, as psutil's ``create_time``)
    created: float
    #: the argv (empty: a kernel thread, a zombie, one not ours to read)
    cmdline: tuple[str, ...]
    #: the start in clock ticks since boot and the exec mark: what says "the same
    #: process, the same program"
    started: int = 0
    mark: bytes = b""
    #: ``time.monotonic()`` when its argv was read
    read_at: float = 0.0
    #: a psutil handle on it, made the first time one is asked for
    handle: psutil.Process | None = None
    #: seen running (not a zombie) by a pass of :class:`KnownProcesses`, and its real
    #: user once read: kept with the argv, read again with it
    running: bool = False
    uid: int | None = None

    def proc(self) -> psutil.Process:
        """A psutil handle on this process (made once; raises psutil.Error if gone)."""
        if self.handle is None:
            self.handle = psutil.Process(self.pid)
        return self.handle


class KnownProcesses:
    """pid → what was seen of it, kept between passes (not thread-safe: the shared
    table's lock serialises passes)."""

    def __init__(self, proc_dir: str = "/proc") -> None:
        self.proc_dir = proc_dir
        self.seen: dict[int, Seen] = {}
        #: how many ``cmdline`` files the passes read (what the cache saves, counted)
        self.argv_reads = 0

    def scan(self) -> Iterator[Seen]:
        """Every process of the host now; processes gone since the last pass forgotten."""
        now_mono = time.monotonic()
        boot = psutil.boot_time()
        age_now = time.time() - boot
        seen: dict[int, Seen] = {}
        for name in os.listdir(self.proc_dir):  # noqa: PTH208 - names, no Path per process
            if not name.isdigit():
                continue
            pid = int(name)
            stat = read_stat(pid, self.proc_dir)
            if stat is None:
                continue  # gone since the listing
            ppid, started, mark, zombie = stat.ppid, stat.started, stat.mark, stat.state == "Z"
            row = self.seen.get(pid)
            if (row is None or row.started != started or row.mark != mark or zombie
                    or now_mono - row.read_at > REREAD_S
                    or age_now - started / TICKS < YOUNG_S):
                cmdline = () if zombie else self._cmdline(pid)
                if cmdline is None:
                    continue  # gone since its stat
                row = Seen(pid, ppid, boot + started / TICKS, cmdline, started, mark,
                           now_mono, running=not zombie)
            row.ppid = ppid
            seen[pid] = row
            yield row
        self.seen = seen

    def _cmdline(self, pid: int) -> tuple[str, ...] | None:
        """The argv as psutil reads it (NUL-separated, or spaces for a rewritten title);
        () when it cannot be read, None when the process is gone."""
        self.argv_reads += 1
        try:
            fd = os.open(f"{self.proc_dir}/{pid}/cmdline", os.O_RDONLY | os.O_CLOEXEC)
        except (FileNotFoundError, ProcessLookupError):
            return None
        except OSError:
            return ()
        try:
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
        except OSError:
            return ()
        finally:
            os.close(fd)
        data = b"".join(chunks).decode(_ENCODING, "surrogateescape")
        if not data:
            return ()
        sep = "\0" if data.endswith("\0") else " "
        if data.endswith(sep):
            data = data[:-1]
        parts = data.split(sep)
        if sep == "\0" and len(parts) == 1 and " " in data:
            parts = data.split(" ")
        return tuple(parts)


def known_processes() -> KnownProcesses | None:
    """A cache over ``/proc`` where there is one (Linux), else None."""
    if sys.platform.startswith("linux") and Path("/proc/self").is_dir():
        return KnownProcesses()
    return None
