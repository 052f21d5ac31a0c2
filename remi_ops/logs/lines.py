"""Complete, bounded lines from a byte stream: the part of tailing that knows no files.

A :class:`LineReader` holds the partial last line until its newline arrives and cuts
over-long lines to ``max_line`` bytes plus :data:`CUT_MARKER`, skipping the rest while
streaming, so memory stays bounded even for a 10 MB line.
"""

from __future__ import annotations

#: Appended to a line cut at ``max_line_bytes``.
CUT_MARKER = b" \xe2\x80\xa6[line cut]"
#: A cut line gives back a trailing run of token characters (up to this many bytes) so a
#: secret is not emitted half: a fragment would escape exact-value and pattern redaction.
_TOKEN_CHARS = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+/=%-"
_TOKEN_TAIL_MAX = 512


class LineReader:
    """Turns a byte stream into complete, bounded lines; owns the partial-line state."""

    def __init__(self, max_line: int, pending: bytes = b"", skipping: bool = False) -> None:
        self.max_line = max_line
        self.pending = pending
        self.skipping = skipping
        self.skipped = 0

    def feed(self, block: bytes) -> bytes:
        """Complete lines from ``block`` (after what is pending); keep the partial tail."""
        if self.skipping:
            nl = block.find(b"\n")
            if nl < 0:
                self.skipped += len(block)
                return b""
            self.skipped += nl + 1
            block = block[nl + 1:]
            self.skipping = False
        last = block.rfind(b"\n")
        if last < 0:
            complete, rest = b"", self.pending + block
        elif self.pending:
            complete, rest = self.pending + memoryview(block)[:last + 1], block[last + 1:]
        elif last == len(block) - 1:
            complete, rest = block, b""
        else:
            complete, rest = block[:last + 1], block[last + 1:]
        out = self._bound(complete) if complete else b""
        if len(rest) > self.max_line:
            out += self._cut(rest)
            self.skipped += len(rest) - self.max_line
            self.skipping = True
            rest = b""
        self.pending = rest
        return out

    def finish(self) -> bytes:
        """The pending partial line as a line of its own (its file is finished)."""
        out = self.pending + b"\n" if self.pending else b""
        self.pending = b""
        self.skipping = False
        return out

    def _cut(self, line: bytes) -> bytes:
        head = line[:self.max_line]
        kept = head.rstrip(_TOKEN_CHARS)
        if kept and len(head) - len(kept) <= _TOKEN_TAIL_MAX:
            head = kept
        return head + CUT_MARKER + b"\n"

    def _bound(self, complete: bytes) -> bytes:
        """Cut lines longer than ``max_line``; cheap when none is (the usual case)."""
        if not self._may_have_long_line(complete):
            return complete
        out: list[bytes] = []
        for line in complete[:-1].split(b"\n"):
            if len(line) > self.max_line:
                self.skipped += len(line) - self.max_line
                out.append(self._cut(line))
            else:
                out.append(line + b"\n")
        return b"".join(out)

    def _may_have_long_line(self, data: bytes) -> bool:
        return may_have_long_line(data, self.max_line)


def may_have_long_line(data: bytes | bytearray, max_line: int, n: int | None = None) -> bool:
    """False only if no line of ``data[:n]`` (all of it by default) is longer than
    ``max_line``.

    A line longer than ``max_line`` fully covers some aligned window of ``max_line // 2``
    bytes, so it is enough that every such window holds a newline.
    """
    width = max(1, max_line // 2)
    find = data.find
    n = len(data) if n is None else n
    return any(find(b"\n", i, i + width) < 0 for i in range(0, n - width + 1, width))
