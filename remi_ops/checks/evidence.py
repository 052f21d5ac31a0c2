"""Evidence for a hang, captured *before* the restart destroys it.

Where the loop is stuck (the beacon's stack or discord.py's loop traceback), a faulthandler
dump (SIGUSR1, registered by the beacon), ``py-spy dump`` when installed, the last error
lines, CPU/RSS and uptime. Everything is redacted and bounded before it is stored.

The stuck stack leads, with Remi's own frames first (``checks.stacks.readable_stack``), so
any cut (``excerpt``, here and in the renderers) loses library frames and log tails, never
the call that blocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from remi_ops.checks.stacks import excerpt
from remi_ops.domain import Check, HealthReport, ProcessIdentity, ProcessSnapshot
from remi_ops.logs.redact import Redact
from remi_ops.logs.redacted import Redacted

__all__ = ["capture_hang_evidence", "excerpt", "file_size", "read_from", "read_tail"]

MAX_EVIDENCE = 48_000
DUMP_WAIT_S = 0.5
TAIL_BYTES = 8_192
#: characters of the log's end kept in the evidence
LOG_TAIL_CHARS = 4096
#: read this much more than is kept, and redact it all before cutting: a token the cut
#: goes through is redacted whole, and the partial first line is dropped
TAIL_MARGIN = 2048


def read_tail(path: Path, size: int = TAIL_BYTES) -> str:
    """The last ``size`` bytes of a file as text ("" when missing)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            end = fh.tell()
            fh.seek(max(0, end - size))
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def read_from(path: Path, offset: int, limit: int = 64_000) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return ""


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def capture_hang_evidence(
    *,
    ident: ProcessIdentity | None,
    snapshot: ProcessSnapshot | None,
    report: HealthReport | None,
    stderr_log: Path,
    send_dump_signal: Callable[[ProcessIdentity], bool],
    py_spy_dump: Callable[[ProcessIdentity], str | None],
    redact: Redact,
) -> Redacted:
    """Collect what an engineer would want to see after the restart, redacted."""
    parts: list[str] = []
    stuck = [f.evidence for f in (report.findings if report else ()) if f.check is Check.EVENT_LOOP]
    if stuck and stuck[0]:
        parts.append("== where the event loop is stuck ==\n" + stuck[0])
    if ident is not None:
        before = file_size(stderr_log)
        if send_dump_signal(ident):
            time.sleep(DUMP_WAIT_S)  # runs in a worker thread, never on an event loop
            dump = read_from(stderr_log, before)
            if dump.strip():
                parts.append("== faulthandler dump (SIGUSR1) ==\n" + dump)
        spy = py_spy_dump(ident)
        if spy:
            parts.append("== py-spy dump ==\n" + spy)
    tail = redacted_tail(stderr_log, LOG_TAIL_CHARS, redact)
    if tail:
        parts.append("== last lines of " + stderr_log.name + " ==\n" + tail)
    if snapshot is not None:
        parts.append(f"== process ==\npid {snapshot.identity.pid}, status {snapshot.status}, "
                     f"cpu {snapshot.cpu_percent:.0f}%, rss {snapshot.rss_bytes / 2**20:.0f} MB, "
                     f"uptime {snapshot.uptime_s:.0f}s, children {list(snapshot.children)}")
    return redact("\n\n".join(parts)).head(MAX_EVIDENCE, "\n… (truncated)")


def redacted_tail(path: Path, limit: int, redact: Redact) -> Redacted:
    """The last ``limit`` characters of a file, redacted before the cut (anchors §4)."""
    window = read_tail(path, limit + TAIL_MARGIN)
    text = redact(window)
    if len(window.encode("utf-8", "replace")) >= limit + TAIL_MARGIN and "\n" in text:
        text = text.tail(len(text) - text.index("\n") - 1, "")  # the cut first line
    return text.tail(limit, "")
