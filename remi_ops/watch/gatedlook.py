"""A look at a file whose answer is kept while no file event came for it.

A check used to open the beacon file and ``stat`` the workdir's ``.git`` at every check
(at 200 targets, 20 opens and stats a second for files that mostly never change, or
never exist: a target without a beacon). Where the watcher's inotify watches their
folder (``watch.filegate.FileGate``), a write, rename, creation or removal of the name is
an event; while none came, the answer of the last look stands. The look is made anyway
where events cannot be relied on (the gate is inactive or its mark is older than its
safety interval: see :mod:`remi_ops.watch.filegate`), so nothing an event could miss is
missed for longer than that.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from remi_ops.logs.lookgate import NO_GATE, LookGate

T = TypeVar("T")


class GatedLook(Generic[T]):
    """``look()``'s answer, looked at again only when the ``gate`` says something changed."""

    def __init__(self, look: Callable[[], T]) -> None:
        self._look = look
        #: set by the watcher (``watch.filegate.gate_observer``); by default: always look
        self.gate: LookGate = NO_GATE
        self._kept: tuple[object, T] | None = None  # the mark taken before the look, answer
        self._lock = threading.Lock()  # a check and a probe may ask at once

    def get(self) -> T:
        with self._lock:
            kept = self._kept
            if kept is not None and self.gate.quiet_since(kept[0]):
                return kept[1]
            mark = self.gate.mark()  # before the look: an event during it moves the next
            answer = self._look()
            self._kept = (mark, answer)
            return answer
