"""Short-lived commands, always as argv lists, their whole tree killed on timeout.

Used by the scan test, ``py-spy dump``, ``systemctl``/``launchctl``. Part of the OS seam;
:mod:`remi_ops.host` re-exports these names.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from remi_ops.exceptions import ProcessError, SpawnError

log = logging.getLogger(__name__)
#: a command printing more keeps its head and tail
MAX_OUTPUT_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The outcome of one short-lived command (scan test, py-spy, systemctl, git)."""

    argv: tuple[str, ...]
    exit_code: int | None  # None when it timed out and was killed
    output: str  # stdout and stderr interleaved, decoded with errors="replace", bounded
    timed_out: bool
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def run_command(argv: Sequence[str], *, cwd: Path | None, env: Mapping[str, str] | None,
                timeout_s: float, max_output_bytes: int = MAX_OUTPUT_BYTES) -> CommandResult:
    """Run a short command in its own session; on timeout kill its whole tree.

    ``env`` is the command's whole environment (None: inherit ours unchanged): a scan
    test passes Remi's clean one (``child_environment``), so nothing of Bubabot's own
    environment leaks through a layering here. Output longer than
    ``max_output_bytes`` keeps its head and tail. A command that cannot be started
    raises :class:`SpawnError` naming the program.
    """
    if not argv:
        raise SpawnError("command", "empty argv")
    started = time.monotonic()
    full_env = dict(env) if env is not None else None
    try:
        proc = subprocess.Popen(list(argv), cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
    except OSError as exc:
        raise SpawnError(Path(argv[0]).name, _start_failure(argv, cwd, exc)) from exc
    buffer = _BoundedOutput(max_output_bytes)
    deadline = started + timeout_s
    with proc:
        _pump(proc, buffer, deadline)
        try:  # output may end (closed or drained) before the command does
            proc.wait(max(0.0, deadline - time.monotonic()))
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_tree(proc)
            proc.wait()
    code = None if timed_out else proc.returncode
    return CommandResult(tuple(argv), code, buffer.text(), timed_out,
                         time.monotonic() - started)


def _start_failure(argv: Sequence[str], cwd: Path | None, exc: OSError) -> str:
    if cwd is not None and not Path(cwd).is_dir():
        return f"cwd {cwd} does not exist"
    if exc.errno in (errno.ENOENT, errno.EACCES, errno.ENOEXEC):
        return f"command {argv[0]!r} not found or not executable"
    return f"command {argv[0]!r} could not be started ({exc.strerror or exc})"


def _pump(proc: subprocess.Popen[bytes], buffer: _BoundedOutput, deadline: float) -> None:
    """Read output until EOF or the deadline.

    Once the command itself has exited, a background grandchild that keeps the pipe open
    gets a short drain period, never the whole timeout.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    drain_until: float | None = None
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            if drain_until is None and proc.poll() is not None:
                drain_until = now + 0.5
            limit = deadline if drain_until is None else min(deadline, drain_until)
            if now >= limit:
                return
            if sel.select(min(limit - now, 0.05)):
                chunk = os.read(fd, 65536)
                if not chunk:
                    return
                buffer.add(chunk)


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a timed-out command: its process group and every descendant.

    Descendants are collected first (they reparent when their parent dies) so that even
    those that left the group go too. The group id is safe to signal: the leader is our
    unreaped child, so its pid cannot have been reused.
    """
    descendants: list[psutil.Process] = []
    with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
        descendants = psutil.Process(proc.pid).children(recursive=True)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for child in descendants:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            child.kill()


class _BoundedOutput:
    """Keeps the first and the last half of a byte stream that outgrows its limit."""

    def __init__(self, limit: int) -> None:
        self._half = max(1, limit // 2)
        self._head = bytearray()
        self._tail = bytearray()
        self._dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self._half - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        self._tail += chunk
        excess = len(self._tail) - self._half
        if excess > 0:
            del self._tail[:excess]
            self._dropped += excess

    def text(self) -> str:
        head = self._head.decode("utf-8", errors="replace")
        tail = self._tail.decode("utf-8", errors="replace")
        if self._dropped:
            return f"{head}\n[… {self._dropped} bytes omitted …]\n{tail}"
        return head + tail


def which(name: str) -> str | None:
    """The full path of ``name`` on PATH, or None."""
    return shutil.which(name)


def py_spy_dump(pid: int, timeout_s: float = 20.0) -> str | None:
    """A py-spy stack dump of every thread, or None when py-spy is missing or failed."""
    if which("py-spy") is None:
        return None
    try:
        result = run_command(["py-spy", "dump", "--pid", str(pid)], cwd=None, env=None,
                             timeout_s=timeout_s)
    except ProcessError as exc:
        log.debug("py-spy dump failed: %s", exc)
        return None
    return result.output if result.ok else None


