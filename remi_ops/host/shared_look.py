"""One look per check: the process's ``stat`` read once, shared by the check's questions.

A quiet check asks several things of the Remi it spawned within a few milliseconds:
its snapshot (is it still that process? its state, CPU and memory), then, for the
duplicate report, "is our child alive?" and "is each copy found alive?". Each asked
:func:`~remi_ops.host.identity.is_alive` or ``snapshot`` for itself, and each read the
pid's ``stat`` (an ``openat``, a ``read``, a ``close``) to re-verify the identity: two
or three reads of the same line per check, at 200 targets a fifth of the host's share.

Inside :func:`one_look` (the observe step of a check: report-only questions) a pid's
line is read the first time it is asked for and handed to every later question of that
look. Outside it — the exit waiter, starts, stops, signals, verbs — every question
reads the line afresh, as before: nothing that acts ever takes a line read earlier. The
look is a context variable, so it holds only for the thread (and context) that opened it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from remi_ops.host.proc_stat import StatLine, read_stat

#: pid → the line read in the open look (None: no such process); None outside a look
_LINES: ContextVar[dict[int, StatLine | None] | None] = ContextVar("remi_one_look",
                                                                   default=None)


@contextmanager
def one_look() -> Iterator[None]:
    """Within this block each pid's ``stat`` is read once (for report-only questions)."""
    token = _LINES.set({})
    try:
        yield
    finally:
        _LINES.reset(token)


def stat_in_look(pid: int) -> StatLine | None:
    """The pid's line: the one this look read already, else a fresh read (kept for the
    rest of the look, if one is open)."""
    lines = _LINES.get()
    if lines is None:
        return read_stat(pid)
    if pid not in lines:
        lines[pid] = read_stat(pid)
    return lines[pid]
