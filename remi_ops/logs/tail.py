"""Incremental, rotation-safe tailing of Remi's ``bot.log`` / ``bot_error.log``.

A :class:`Tailer` remembers where it stopped as a :class:`LogPosition` (device, inode,
offset and a hash of the first bytes), which the store persists between checks, so a
restarted watcher continues exactly where the last one stopped: no duplicates, no loss.

Each :meth:`Tailer.read_new` seeks to the saved offset and reads only what was appended,
so its cost follows the bytes written since the last check, not the size of the file.
It copes with:

- a file that does not exist yet (empty result; read from its start once it appears);
- first attach to an existing file: only the last ``initial_read_bytes``, from the next
  line boundary;
- rename rotation (``bot.log`` → ``bot.log.1``, a new ``bot.log``): what is left of the
  old file is drained from ``<path>.1`` when that is the same inode, then the new file is
  read from its start. A rotated file that was compressed, deleted or renamed elsewhere is
  not searched for; its unread rest is lost (it is counted in ``skipped_bytes`` when known);
- copytruncate and truncation (size below the offset, or the first bytes changed while the
  file regrew past the offset, which also catches a new file that got the old inode
  number back): read again from the start;
- a partial last line: held back (in memory, not re-read) until its newline arrives;
- over-long lines: cut to ``max_line_bytes`` plus :data:`CUT_MARKER`, the rest skipped
  while streaming, so memory stays bounded even for a 10 MB line;
- invalid UTF-8 (replaced) and NUL bytes (kept).

A bulk reader (a first scan) is fastest with ``max_bytes`` of one 4-MiB read block.
"""

from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path

from remi_ops.logs.lines import CUT_MARKER, LineReader
from remi_ops.logs.lookgate import NO_GATE, LookGate
from remi_ops.logs.position import HEAD_BYTES, LogPosition, TailChunk, head_hash

__all__ = ["CUT_MARKER", "LogPosition", "TailChunk", "Tailer"]

DEFAULT_INITIAL_READ = 4 * 1024 * 1024
DEFAULT_MAX_LINE = 64 * 1024
DEFAULT_MAX_READ = 16 * 1024 * 1024
_BLOCK = 4 * 1024 * 1024


class Tailer:
    """Reads what was appended to one log file since the last call."""

    def __init__(self, path: str | os.PathLike[str], position: LogPosition | None = None, *,
                 initial_read_bytes: int = DEFAULT_INITIAL_READ,
                 max_line_bytes: int = DEFAULT_MAX_LINE) -> None:
        if max_line_bytes < 16 or initial_read_bytes < 0:
            raise ValueError("max_line_bytes must be >= 16 and initial_read_bytes >= 0")
        self.path = Path(path)
        #: the file the writer really has open (its fd's target), when the caller knows it:
        #: after a ``create`` rotation Remi goes on writing the renamed file until restarted
        self.follow: Path | None = None
        self._file = self.path  # the file being read: ``path``, or ``follow`` after a rename
        self._initial = initial_read_bytes
        self._pos = position
        skipping = position.skipping if position else False
        self._reader = LineReader(max_line_bytes, skipping=skipping)
        self._read_offset = position.offset if position else 0
        #: when this tailer last found the file empty (a copy made after it is all unread)
        self._empty_at: float | None = None
        self._drained: tuple[int, int, float, int] | None = None  # that copy, read once
        self._read_files: tuple[tuple[int, int], ...] = ()  # earlier files (create rotation)
        #: the file as the last read left it, all read: (dev, inode, size, mtime in ns)
        self._all_read: tuple[object, ...] | None = None
        #: says when no file event came for the file or its ``.1`` (``watch.filegate``):
        #: a look then needs no ``stat``; by default a ``stat`` at every look, as before
        self.gate: LookGate = NO_GATE
        self._mark: object = None  # the gate's mark, taken just before the last look

    @property
    def reading(self) -> Path:
        """The file being read: ``path``, or the renamed file Remi still writes."""
        return self._file

    @property
    def position(self) -> LogPosition | None:
        """The committed position (start of the first line not yet returned)."""
        return self._pos

    @property
    def read_offset(self) -> int:
        """How far the file being read has been read (a partial last line included)."""
        return self._read_offset

    def continue_after_copy(self, copy: Path, size: int) -> TailChunk:
        """Our file was copied to ``copy`` (its first ``size`` bytes) and truncated to 0
        (:mod:`remi_ops.logs.rotate`): what came after our last read is read from the
        copy, then the emptied file from its start; a partial last line carries over.

        The committed offset is 0 (the emptied file): a partial line begun before the
        truncation lives only in memory until its newline arrives.
        """
        assert self._pos is not None
        data = b""
        try:
            with open(copy, "rb", buffering=0) as f:
                st = os.fstat(f.fileno())
                data, _more = self._read_blocks(f, size, max(1, size - self._read_offset))
            self._drained = (*_identity(st), st.st_mtime, st.st_size)  # never again
        except OSError:
            pass  # the copy vanished at once: its unread rest is gone with it
        self._pos = replace(self._pos, head_len=0, head_hash="")
        self._read_offset, self._empty_at, self._file = 0, None, self.path
        self._all_read = None
        return TailChunk(data, self._commit(), skipped_bytes=self._take_skipped())

    def read_new(self, max_bytes: int = DEFAULT_MAX_READ) -> TailChunk:
        """Complete lines appended since the last call, reading at most ``max_bytes``.

        A file that is just as the last read left it — same inode, size and mtime, all
        of it read (and, when it was empty, its ``.1`` copy untouched too) — costs a
        ``stat`` (none when the ``gate`` says no event came since): nothing is opened. (A
        truncation or a copytruncate changes the mtime even when the size is the same.)
        """
        if self._pos is not None and self._quiet():
            return TailChunk(b"", self._pos, skipped_bytes=self._take_skipped())
        mark, st = self.gate.mark(), _stat(self.path)
        if self._pos is not None and self._untouched(st):
            self._mark = mark
            return TailChunk(b"", self._pos, skipped_bytes=self._take_skipped())
        empty_at, self._empty_at, self._all_read = self._empty_at, None, None
        chunk = self._read_new(st, empty_at, max_bytes)
        if st is not None and st.st_size == 0 and self._pos and self._pos.head_len == 0:
            self._empty_at = st.st_mtime  # nothing to compare a copy's head with later
        self._all_read = self._signature(st) if st is not None and self._read_all_of(st) \
            else None
        self._mark = mark
        return chunk

    def nothing_new(self) -> TailChunk | None:
        """``read_new``'s empty answer after one look (a ``stat``, or none); None: read."""
        if self._pos is None or not (self._quiet() or self._untouched_now()):
            return None
        return TailChunk(b"", self._pos, skipped_bytes=self._take_skipped())

    def _untouched_now(self) -> bool:
        mark, untouched = self.gate.mark(), self._untouched(_stat(self.path))
        if untouched:
            self._mark = mark
        return untouched

    def _quiet(self) -> bool:
        """All was read at the last look, and no event came for the files since it."""
        return self._all_read is not None and self.gate.quiet_since(self._mark)

    def _untouched(self, st: os.stat_result | None) -> bool:
        return st is not None and self._all_read is not None and (
            self._all_read == self._signature(st))

    def _signature(self, st: os.stat_result) -> tuple[object, ...]:
        """What says the file (and, while it is empty, its copy) was not touched since."""
        if self._empty_at is None:
            return _unchanged(st)
        copy = _stat(self.path.with_name(self.path.name + ".1"))
        return _unchanged(st), None if copy is None else _unchanged(copy)

    def _read_all_of(self, st: os.stat_result | None) -> bool:
        """The last read took all of ``st``'s file, the one at ``path``, head included,
        and no copy of an emptied file waits to be read."""
        pos = self._pos
        return (st is not None and pos is not None and self._file == self.path
                and _identity(st) == (pos.dev, pos.inode)
                and self._read_offset == st.st_size
                and pos.head_len >= min(HEAD_BYTES, st.st_size)
                and not self._copied_since(self._empty_at, pos))

    def _read_new(self, st: os.stat_result | None, empty_at: float | None,
                  max_bytes: int) -> TailChunk:
        pos = self._pos
        if pos is None:
            return self._first_attach(st, max_bytes)
        if pos.inode == 0:
            if st is None:
                return TailChunk(b"", pos)
            self._restart(st, 0)
            return replace(self._read(st, max_bytes), created=True)
        if st is None or _identity(st) != (pos.dev, pos.inode):
            followed = self._still_written(pos)
            if followed is None:
                return self._rotated(st, max_bytes)
            st = followed
        else:
            self._file = self.path
        if (st.st_size < self._read_offset or not self._head_matches(st, pos)
                or self._copied_since(empty_at, pos)):
            copied = self._drain_copy(pos, max_bytes, empty_at)
            flushed = copied + self._reader.finish()
            self._restart(st, 0)
            chunk = self._read(st, max_bytes - len(flushed))
            return replace(chunk, data=flushed + chunk.data, truncated=True)
        return self._read(st, max_bytes)

    # ------------------------------------------------------------------ cases

    def _first_attach(self, st: os.stat_result | None, max_bytes: int) -> TailChunk:
        if st is None:
            self._pos = LogPosition(str(self.path))
            return TailChunk(b"", self._pos)
        start = max(0, st.st_size - self._initial)
        self._restart(st, start)
        if start > 0 and self._byte_at(start - 1) != b"\n":
            self._reader.skipping = True
        chunk = self._read(st, max_bytes)
        return replace(chunk, skipped_bytes=chunk.skipped_bytes + start)

    def _rotated(self, st: os.stat_result | None, max_bytes: int) -> TailChunk:
        """The path now names another file (or none): drain ``<path>.1``, then start anew."""
        assert self._pos is not None
        drained, more = self._drain_old(max_bytes)
        if more or st is None:
            return TailChunk(drained, self._commit(), rotated=st is not None, more=more,
                             skipped_bytes=self._take_skipped())
        flushed = drained + self._reader.finish()
        self._restart(st, 0)
        chunk = self._read(st, max_bytes - len(flushed))
        return replace(chunk, data=flushed + chunk.data, rotated=True)

    def _still_written(self, pos: LogPosition) -> os.stat_result | None:
        """The renamed file the writer still has open (``follow``), if it is ours."""
        if self.follow is None or self.follow == self.path:
            return None
        st = _stat(self.follow)
        if st is None or _identity(st) != (pos.dev, pos.inode):
            return None
        self._file = self.follow
        return st

    def _drain_old(self, max_bytes: int) -> tuple[bytes, bool]:
        """What is left of the file we were reading: the one followed, or ``<path>.1``."""
        assert self._pos is not None
        for old in dict.fromkeys((self._file, self.path.with_name(self.path.name + ".1"))):
            try:
                with open(old, "rb", buffering=0) as f:
                    st = os.fstat(f.fileno())
                    if _identity(st) != (self._pos.dev, self._pos.inode):
                        continue
                    return self._read_blocks(f, st.st_size, max_bytes)
            except OSError:
                continue
        return b"", False

    def _copied_since(self, empty_at: float | None, pos: LogPosition) -> bool:
        """The file was empty at the last read and ``<path>.1`` was written after it went
        empty (strictly: file times tick in jiffies, and the copy that emptied it is as old
        as the truncation; the copy already drained is never taken again): a
        copytruncate took what came between (no head to compare: found by bench/chaos.py,
        half of a burst lost when the last read had found the log empty)."""
        if empty_at is None or pos.head_len or self._read_offset:
            return False
        copy = _stat(self.path.with_name(self.path.name + ".1"))
        return (copy is not None and copy.st_size > 0 and copy.st_mtime > empty_at
                and _identity(copy) != (pos.dev, pos.inode)
                and _identity(copy) not in self._read_files  # renamed by ``create``, not copied
                and self._drained != (*_identity(copy), copy.st_mtime, copy.st_size))

    def _drain_copy(self, pos: LogPosition, max_bytes: int,
                    empty_at: float | None = None) -> bytes:
        """copytruncate: the unread tail went to ``<path>.1``; read it there when that
        file begins as ours did (same head) and reaches past where we stopped, or, when
        ours was empty at the last read, when the copy was written since."""
        copy = self.path.with_name(self.path.name + ".1")
        if pos.head_len == 0:
            return self._read_whole(copy, max_bytes) if self._copied_since(empty_at, pos) \
                else b""
        try:
            with open(copy, "rb", buffering=0) as f:
                st = os.fstat(f.fileno())
                if (_identity(st) == (pos.dev, pos.inode) or st.st_size <= self._read_offset
                        or head_hash(f.read(pos.head_len)) != pos.head_hash):
                    return b""
                data, _more = self._read_blocks(f, st.st_size, max_bytes)
        except OSError:
            return b""
        self._drained = (*_identity(st), st.st_mtime, st.st_size)
        return data

    def _read_whole(self, copy: Path, max_bytes: int) -> bytes:
        try:
            with open(copy, "rb", buffering=0) as f:
                st = os.fstat(f.fileno())
                data, _more = self._read_blocks(f, st.st_size, max_bytes)
        except OSError:
            return b""
        self._drained = (*_identity(st), st.st_mtime, st.st_size)
        return data

    # ------------------------------------------------------------------ reading

    def _read(self, st: os.stat_result, max_bytes: int) -> TailChunk:
        if st.st_size <= self._read_offset:
            return TailChunk(b"", self._commit(st), skipped_bytes=self._take_skipped())
        try:
            with open(self._file, "rb", buffering=0) as f:
                if _identity(os.fstat(f.fileno())) != _identity(st):
                    raise FileNotFoundError  # replaced since stat(): next call sees rotation
                data, more = self._read_blocks(f, st.st_size, max(1, max_bytes))
        except FileNotFoundError:
            return TailChunk(b"", self._commit(), skipped_bytes=self._take_skipped())
        return TailChunk(data, self._commit(st), more=more, skipped_bytes=self._take_skipped())

    def _read_blocks(self, f: io.RawIOBase, size: int, max_bytes: int) -> tuple[bytes, bool]:
        """Read from the read offset to ``size`` (at most ``max_bytes``) in large blocks.

        Within one call a block's partial last line is given back and read again with the
        next block, rather than glued to it (a copy of the whole block each time); only
        the tail of the last block waits in memory for the next call.
        """
        f.seek(self._read_offset)
        budget = min(max_bytes, max(0, size - self._read_offset))
        out: list[bytes] = []
        reader = self._reader
        while budget > 0:
            block = f.read(min(_BLOCK, budget))
            if not block:
                break
            budget -= len(block)
            self._read_offset += len(block)
            if budget > 0 and not reader.pending and not reader.skipping:
                back = len(block) - 1 - block.rfind(b"\n")
                if 0 < back < min(len(block), reader.max_line):
                    self._read_offset -= back
                    budget += back
                    f.seek(self._read_offset)
                    block = block[:-back]
            out.append(reader.feed(block))
        return (out[0] if len(out) == 1 else b"".join(out)), self._read_offset < size

    # ------------------------------------------------------------------ state

    def _restart(self, st: os.stat_result, offset: int) -> None:
        """Start over on the file described by ``st`` at ``offset``."""
        if self._pos is not None and self._pos.inode:  # a file we read is never a "copy"
            self._read_files = (*self._read_files[-7:], (self._pos.dev, self._pos.inode))
        self._pos = LogPosition(str(self.path), st.st_dev, st.st_ino, offset)
        self._file = self.path
        self._read_offset = offset
        self._all_read = None
        skipped = self._reader.skipped
        self._reader = LineReader(self._reader.max_line)
        self._reader.skipped = skipped

    def _commit(self, st: os.stat_result | None = None) -> LogPosition:
        """Record the committed offset (before the pending partial line) and the head."""
        assert self._pos is not None
        offset = max(0, self._read_offset - len(self._reader.pending))
        pos = replace(self._pos, offset=offset, skipping=self._reader.skipping)
        if st is not None and pos.head_len < HEAD_BYTES and st.st_size > pos.head_len:
            head = self._read_head()
            if head is not None:
                pos = replace(pos, head_len=len(head), head_hash=head_hash(head))
        self._pos = pos
        return pos

    def _head_matches(self, st: os.stat_result, pos: LogPosition) -> bool:
        if pos.head_len == 0:
            return True
        head = self._read_head(pos.head_len)
        return head is not None and len(head) == pos.head_len and head_hash(head) == pos.head_hash

    def _read_head(self, n: int = HEAD_BYTES) -> bytes | None:
        try:
            with open(self._file, "rb", buffering=0) as f:
                return f.read(n)
        except OSError:
            return None

    def _byte_at(self, offset: int) -> bytes:
        try:
            with open(self.path, "rb", buffering=0) as f:
                f.seek(offset)
                return f.read(1)
        except OSError:
            return b""

    def _take_skipped(self) -> int:
        skipped, self._reader.skipped = self._reader.skipped, 0
        return skipped


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _unchanged(st: os.stat_result) -> tuple[int, int, int, int]:
    """What says a file was not touched since: inode, size and modification time."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None
