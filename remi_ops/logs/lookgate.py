"""What a :class:`~remi_ops.logs.tail.Tailer` asks before it looks at its file: did
anything happen to it (or to its ``.1`` copy) since the last look found it all read?

The watcher's file events answer it (``remi_ops.watch.filegate.FileGate``); a tailer
without a gate ``stat``s its file at every look, as it always did.
"""

from __future__ import annotations

from typing import Any, Protocol


class LookGate(Protocol):
    """``mark`` just before a look; ``quiet_since(mark)`` later: nothing can have changed."""

    def mark(self) -> Any:
        """A token of this moment (None: the answer later will be "look")."""

    def quiet_since(self, mark: Any) -> bool:
        """True only when no change of the files can have happened since ``mark``."""


class NoGate:
    """No events to go by: every look is a ``stat``, as before."""

    def mark(self) -> None:
        return None

    def quiet_since(self, mark: object) -> bool:
        del mark
        return False


NO_GATE = NoGate()
