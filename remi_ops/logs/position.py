"""Where a tailer stopped in one file (:class:`LogPosition`, which the store persists
between checks) and what one read found (:class:`TailChunk`).

Values only: :mod:`remi_ops.logs.tail` reads files and makes them;
:mod:`remi_ops.logs.rotate` hands the rest of a rotated file to a tailer as one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from remi_ops.digests import blake2b

__all__ = ["HEAD_BYTES", "LogPosition", "TailChunk", "head_hash"]

#: how many first bytes of a file are hashed to tell it from a new one on the same inode
HEAD_BYTES = 128


def head_hash(data: bytes) -> str:
    """A short hash of a file's first bytes (its identity beyond the inode number)."""
    return blake2b(data, digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class LogPosition:
    """Where a tailer stopped in one file; the store persists it as a dict.

    ``offset`` is the start of the first line not yet returned. ``inode == 0`` means the
    file did not exist when we attached (so all of it is new once it appears).
    ``skipping`` means ``offset`` lies inside an over-long line whose head was returned.
    """

    path: str
    dev: int = 0
    inode: int = 0
    offset: int = 0
    head_len: int = 0
    head_hash: str = ""
    skipping: bool = False

    def to_dict(self) -> dict[str, object]:
        """A JSON-friendly dict."""
        return {"path": self.path, "dev": self.dev, "inode": self.inode, "offset": self.offset,
                "head_len": self.head_len, "head_hash": self.head_hash,
                "skipping": self.skipping}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> LogPosition:
        """Rebuild a position; raises ``ValueError`` on a malformed dict."""
        try:
            pos = cls(path=str(data["path"]), dev=_int(data.get("dev", 0)),
                      inode=_int(data.get("inode", 0)), offset=_int(data.get("offset", 0)),
                      head_len=_int(data.get("head_len", 0)),
                      head_hash=str(data.get("head_hash", "")),
                      skipping=bool(data.get("skipping", False)))
        except KeyError as exc:
            raise ValueError(f"log position: missing {exc.args[0]!r}") from None
        if min(pos.offset, pos.head_len, pos.inode, pos.dev) < 0:
            raise ValueError("log position: negative field")
        return pos


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"log position: not an integer: {value!r}")
    return int(value)


@dataclass(frozen=True)
class TailChunk:
    """What one :meth:`Tailer.read_new` found.

    ``data`` holds complete lines, each ending in ``\\n`` (cut lines end in the marker);
    ``lines`` is the decoded view. ``more`` means the read stopped at ``max_bytes``.
    """

    data: bytes
    position: LogPosition
    rotated: bool = False
    truncated: bool = False
    skipped_bytes: int = 0
    more: bool = False
    created: bool = False

    @cached_property
    def lines(self) -> list[str]:
        """The new complete lines, decoded as UTF-8 (invalid bytes replaced), no newline."""
        if not self.data:
            return []
        text = self.data.decode("utf-8", "replace")
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        return text.split("\n")[:-1]
