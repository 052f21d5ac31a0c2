"""``Redacted``: text that went through the redactor, the only text allowed to leave.

Every field whose text can leave the process (a finding's evidence, a scan's output, an
error group's title and sample, a restart's evidence) is typed ``Redacted``, so mypy
rejects a raw ``str`` there: the un-redacted path cannot be written by accident. Only
``remi_ops.logs.redact`` turns raw text into one (``tests/test_architecture.py`` enforces
it); this module only cuts and joins text that is already redacted, which cannot bring a
secret back.

It lives at the top of the package, beside ``domain``, because the domain types, the store,
the alerts and Bubabot all use it, and it must import nothing of ours.
"""

from __future__ import annotations

from collections.abc import Iterable

#: what a cut adds where it took text away
TRUNCATION_MARKER = "…"


class Redacted(str):
    """A ``str`` whose secrets are already replaced by ``[REDACTED:<kind>]`` markers.

    ``str`` methods return plain ``str`` (so ``text[:80]`` is no longer ``Redacted``);
    cut and join with :meth:`head`, :meth:`tail` and :meth:`join_all`.
    """

    __slots__ = ()

    def head(self, limit: int, marker: str = TRUNCATION_MARKER) -> Redacted:
        """The first ``limit`` characters, ending in ``marker`` when something was cut."""
        if len(self) <= limit:
            return self
        if limit <= len(marker):
            return Redacted(self[:max(0, limit)])
        return Redacted(self[:limit - len(marker)] + marker)

    def tail(self, limit: int, marker: str = TRUNCATION_MARKER) -> Redacted:
        """The last ``limit`` characters, starting with ``marker`` when something was cut."""
        if len(self) <= limit:
            return self
        if limit <= len(marker):
            return Redacted(self[len(self) - max(0, limit):])
        return Redacted(marker + self[len(self) - limit + len(marker):])

    def cut_middle(self, limit: int, head: int, marker: str) -> Redacted:
        """At most ``limit`` characters: the first ``head`` and the end, ``marker`` between."""
        if len(self) <= limit:
            return self
        tail = max(0, limit - head - len(marker))
        return Redacted(self[:head] + marker + self[len(self) - tail:])

    @classmethod
    def from_wire(cls, text: str) -> Redacted:
        """How ``remi_ops.watch.wire`` reads one back from the watcher's JSON answers: that
        JSON is the watcher's own rendering of ``Redacted`` values, so it stays one."""
        return cls(text)

    def join_all(self, parts: Iterable[Redacted]) -> Redacted:
        """``self.join(parts)``, still redacted (``self`` is the separator)."""
        return Redacted(str.join(self, parts))


#: the empty text, the default of every ``Redacted`` field
NO_TEXT = Redacted("")
