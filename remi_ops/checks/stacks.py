"""Where a stuck loop is stuck: the frames of a stack dump, Remi's own first.

A hang's stack (the beacon's ``stuck_stack``, discord.py's "Loop thread traceback", a
faulthandler dump) is mostly asyncio and discord.py; the frame a reader needs is the
innermost one in Remi's own code (``fetch_track_sync``). "In-app" is a frame whose file is
under the target's workdir; when no frame is (Remi installed elsewhere), a frame outside
site-packages and the standard library. ``readable_stack`` puts those frames first, so a
length limit (``excerpt``) cuts the library frames, never the blocking call; its last line
names the call again, for a renderer that keeps the end of a text instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from remi_ops.logs.tracebacks import basename, is_in_app

#: ``File "x.py", line 12, in f`` (traceback) and ``File "x.py", line 12 in f`` (faulthandler)
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+),? in (?P<func>\S+)')
IN_APP_HEADER = "Remi's frames (innermost first):"
FULL_HEADER = "Full stack:"
CUT_MARK = "\n… ({} more characters cut)"


@dataclass(frozen=True, slots=True)
class StackFrame:
    """One frame of a stack dump, and the source line under it when the dump has one."""

    filename: str
    lineno: int
    function: str
    source: str = ""

    @property
    def where(self) -> str:
        """``fetch_track (soundcloud.py:42)``: what a title names."""
        return f"{self.function} ({basename(self.filename)}:{self.lineno})"


def frames_of(stack: str) -> list[StackFrame]:
    """The frames of ``stack``, outermost first (a faulthandler dump, "most recent call
    first", is turned round)."""
    frames: list[StackFrame] = []
    lines = stack.splitlines()
    for i, line in enumerate(lines):
        m = _FRAME.match(line)
        if m is None:
            continue
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        source = "" if _FRAME.match(following) or not following else following
        frames.append(StackFrame(m["file"], int(m["line"]), m["func"], source))
    return frames[::-1] if "most recent call first" in stack else frames


def in_app_frames(frames: list[StackFrame], workdir: Path | None) -> list[StackFrame]:
    """Remi's own frames, outermost first: under ``workdir`` if any are, else non-library."""
    if workdir is not None:
        root = str(workdir.resolve()).rstrip("/") + "/"
        under = [f for f in frames if f.filename.startswith(root) and is_in_app(f.filename)]
        if under:
            return under
    return [f for f in frames if is_in_app(f.filename)]


def blocking_frame(stack: str, workdir: Path | None = None) -> StackFrame | None:
    """The innermost in-app frame: the call that blocks the loop (None for no frames)."""
    mine = in_app_frames(frames_of(stack), workdir)
    return mine[-1] if mine else None


def readable_stack(stack: str, workdir: Path | None = None) -> str:
    """The stack with Remi's frames leading (innermost first), then the whole dump."""
    mine = in_app_frames(frames_of(stack), workdir)
    if not mine:
        return stack
    blocked = f"Blocked in {mine[-1].where}"
    lines = [blocked, IN_APP_HEADER]
    for frame in reversed(mine):
        lines.append(f"  {frame.where}" + (f": {frame.source}" if frame.source else ""))
    # the last line too: a renderer that keeps the end of a long text still names the call
    return "\n".join([*lines, "", FULL_HEADER, stack.rstrip("\n"), "", blocked])


def excerpt(text: str, limit: int) -> str:
    """At most ``limit`` characters of ``text``, cut at the end on a line boundary.

    Evidence is built to lead with what matters (``readable_stack``), so the end is the
    part to lose; renderers with a length limit (a Discord field, a message) cut with this.
    """
    if len(text) <= limit:
        return text
    keep = max(0, limit - len(CUT_MARK.format(len(text))))
    head = text[:keep]
    if "\n" in head:
        head = head[:head.rindex("\n")]
    return head + CUT_MARK.format(len(text) - len(head))
