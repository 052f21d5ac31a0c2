"""Test helpers shipped with the engine (as ``structlog.testing`` is): fakes of its seams
and the one polling helper.

``FakeProcessManager`` stands in for the OS seam the way supervisor's ``DummyOptions``
does: it records every start, stop, signal and command it was asked for, in order, and has
knobs to make them fail. With it and ``FakeClock``, a watch's policy runs in milliseconds;
the real seam has its own real-process tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from remi_ops.alerts.model import Condition
from remi_ops.clock import Clock, FakeClock
from remi_ops.config import TargetSettings
from remi_ops.domain import Event, ExitInfo, ProcessIdentity, ProcessSnapshot
from remi_ops.exceptions import RemiOpsError
from remi_ops.host import CommandResult, StopResult

if TYPE_CHECKING:
    from remi_ops.watch.watcher import Watcher

__all__ = ["FakeClock", "FakeProcessManager", "RecordingNotifier", "wait_until",
           "wait_until_async"]
T = TypeVar("T")
_PIDS = itertools.count(40_000)


def wait_until(probe: Callable[[], T | None], timeout: float = 8.0, what: str = "") -> T:
    """Poll ``probe`` (blocking; tests only) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")


async def wait_until_async(probe: Callable[[], T | None], timeout: float = 10.0,  # noqa: ASYNC109 - mirrors wait_until
                           what: str = "") -> T:
    """``wait_until`` for async tests: the probe runs in a worker thread (it may block on
    files, SQLite or psutil) and the event loop keeps running while it waits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(probe)
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")


@dataclass
class FakeProcessManager:
    """A ``ProcessManager`` whose processes are made up, and which remembers everything.

    ``calls`` lists what was asked, in order: ``("start", pid)``, ``("stop", pid)``,
    ``("dump", pid)``, ``("py_spy", pid)``, ``("run", argv)``. Knobs: ``start_error`` /
    ``stop_error`` are raised by the next start / stop (then cleared unless ``sticky``),
    ``handles_dump`` is what ``request_dump`` answers, ``command_output`` and
    ``command_exit`` shape what ``run_command`` returns, ``on_stop`` runs as a process dies
    (a test writes its last log lines there), ``status`` overrides a pid's psutil status.
    """

    target: TargetSettings
    clock: Clock
    running: list[ProcessIdentity] = field(default_factory=list)
    calls: list[tuple[str, object]] = field(default_factory=list)
    start_error: RemiOpsError | None = None
    stop_error: RemiOpsError | None = None
    sticky: bool = False
    handles_dump: bool = False
    py_spy_output: str | None = None
    command_output: str = "scan ok"
    command_exit: int = 0
    on_stop: Callable[[ProcessIdentity], None] = lambda ident: None
    status: dict[int, str] = field(default_factory=dict)
    _exits: dict[int, ExitInfo] = field(default_factory=dict)
    _exited: threading.Condition = field(default_factory=threading.Condition)

    # ---------------------------------------------------------------- what tests do

    def spawn_outside(self) -> ProcessIdentity:
        """A copy started by hand (not through this manager), as ``find`` will see it."""
        ident = self._new()
        self.running.append(ident)
        return ident

    def crash(self, ident: ProcessIdentity | None = None, *, returncode: int | None = 1,
              signal: int | None = None) -> ExitInfo:
        """The process dies on its own; ``wait_exit`` reports it."""
        ident = ident or self.running[0]
        self.running.remove(ident)
        info = ExitInfo(ident.pid, returncode, signal, self.clock.now())
        with self._exited:
            self._exits[ident.pid] = info
            self._exited.notify_all()
        return info

    def names(self) -> list[str]:
        """Just the verbs of ``calls``, for order assertions."""
        return [name for name, _ in self.calls]

    # ---------------------------------------------------------------- ProcessManager

    def find(self, *, shared: bool = False) -> list[ProcessIdentity]:
        del shared  # no process table: what runs is what the fake says
        return list(self.running)

    def start(self) -> ProcessIdentity:
        if self.running:
            return self.running[0]
        self._raise("start_error")
        ident = self._new()
        self.running.append(ident)
        self.calls.append(("start", ident.pid))
        return ident

    def stop(self, ident: ProcessIdentity | None, grace_s: float) -> StopResult:
        del grace_s
        targets = [ident] if ident is not None else list(self.running)
        for one in targets:
            self.calls.append(("stop", one.pid))
            self._raise("stop_error")
            if one in self.running:
                self.on_stop(one)
                self.running.remove(one)
        return StopResult(stopped=bool(targets), killed=False, survivors=(), duration_s=0.0)

    def restart(self, ident: ProcessIdentity | None, grace_s: float) -> ProcessIdentity:
        self.stop(ident, grace_s)
        return self.start()

    def snapshot(self, ident: ProcessIdentity, *,
                 shared: bool = False) -> ProcessSnapshot | None:
        del shared
        if ident not in self.running:
            return None
        uptime = self.clock.now().timestamp() - ident.create_time
        return ProcessSnapshot(ident, self.status.get(ident.pid, "sleeping"), 1.0,
                               50 * 2**20, (), max(0.0, uptime))

    def wait_exit(self, ident: ProcessIdentity, timeout: float | None,
                  cancel: threading.Event | None = None) -> ExitInfo | None:
        del cancel
        with self._exited:
            self._exited.wait_for(lambda: ident.pid in self._exits, timeout)
            return self._exits.pop(ident.pid, None)

    def request_dump(self, ident: ProcessIdentity) -> bool:
        self.calls.append(("dump", ident.pid))
        return self.handles_dump

    def py_spy_dump(self, ident: ProcessIdentity) -> str | None:
        self.calls.append(("py_spy", ident.pid))
        return self.py_spy_output

    def take_swept(self) -> tuple[int, ...]:
        return ()  # made-up processes leave nothing behind

    def run_command(self, argv: Sequence[str], *, cwd: Path | None,
                    env: Mapping[str, str] | None, timeout_s: float,
                    max_output_bytes: int = 1_000_000) -> CommandResult:
        del cwd, env, timeout_s
        self.calls.append(("run", tuple(argv)))
        return CommandResult(tuple(argv), self.command_exit,
                             self.command_output[:max_output_bytes], False, 0.01)

    # ---------------------------------------------------------------- inside

    def _new(self) -> ProcessIdentity:
        return ProcessIdentity(next(_PIDS), self.clock.now().timestamp(),
                               tuple(self.target.command), str(self.target.workdir))

    def _raise(self, knob: str) -> None:
        error = getattr(self, knob)
        if error is not None:
            if not self.sticky:
                setattr(self, knob, None)
            raise error


@dataclass
class RecordingNotifier:
    """A ``Notifier`` that keeps what a watch told the alert engine."""

    observed: list[tuple[datetime, str, list[Condition]]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def observe(self, now: datetime, target: str, conditions: list[Condition]) -> None:
        self.observed.append((now, target, list(conditions)))

    def event(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [str(e.kind) for e in self.events]

    def firing(self) -> set[str]:
        """The condition kinds of the latest check."""
        return {str(c.key.kind) for c in self.observed[-1][2]} if self.observed else set()


@contextlib.asynccontextmanager
async def running(watcher: Watcher) -> AsyncIterator[Watcher]:
    """``watcher`` started (targets adopted or started) with every background job running,
    as ``remi-ops watch`` runs it; on exit the jobs are stopped and the watcher closed."""
    stopping = asyncio.Event()
    await watcher.start()
    tasks = [asyncio.create_task(job) for job in watcher.background(stopping)]
    try:
        yield watcher
    finally:
        stopping.set()
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        watcher.close()


@contextlib.contextmanager
def root_logging_restored() -> Iterator[None]:
    """The root logger as it was before, after a CLI ``main()`` installed its handlers."""
    import logging  # noqa: PLC0415 - only the tests that run a main need it

    from remi_ops.cli.logsetup import HANDLER_NAME  # noqa: PLC0415 - avoid a cycle

    root = logging.getLogger()
    level = root.level
    try:
        yield
    finally:
        for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)
