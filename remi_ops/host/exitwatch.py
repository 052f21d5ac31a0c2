"""One waiter for every supervised process: deaths arrive as events on the running loop.

A thread per target blocked in ``wait_exit`` does not scale: at 50 targets they filled
asyncio's default pool and a death was noticed after 10 s. Here every watched process is
one registration with the kernel, and the loop itself is told when any of them ends:

* ``pidfd`` (Linux ≥ 5.3): ``os.pidfd_open`` per process, each fd on the loop's selector
  (``loop.add_reader``); it turns readable when the process exits. No thread at all.
* ``kqueue`` (macOS, BSD): one kqueue with an ``EVFILT_PROC``/``NOTE_EXIT`` event per
  process, its fd on the loop's selector.
* ``poll``: one thread looks at every watched process a few times a second (psutil), for
  a kernel without pidfd (or a sandbox that forbids it); forced with ``mode="poll"``.

Identity stays provable: the kernel handle is taken *first*, and the process is then
checked to still be the one identified (pid + start time, :mod:`remi_ops.host.identity`).
A pid reused before the handle was taken fails that check and reads as "exited" (the
process we knew is gone); one reused after it cannot fool the handle, which names the
process, not the number. How it ended: our own child is reaped through its Popen
(``waitpid`` without blocking) once the kernel says it ended, so its code or signal is
known; an adopted process is not our child and its status stays unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import select
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from remi_ops.clock import Clock, SystemClock
from remi_ops.domain import ExitInfo, ProcessIdentity
from remi_ops.host.identity import is_alive
from remi_ops.host.lifecycle import own_child

log = logging.getLogger(__name__)

Mode = Literal["auto", "pidfd", "kqueue", "poll"]
#: how often the fallback thread looks at every watched process
POLL_INTERVAL_S = 0.25
#: a child whose exit the kernel reported is reaped at once; if another thread is in
#: ``Popen.wait`` on it at that moment, try again this often, this many times
REAP_RETRY_S = 0.02
REAP_TRIES = 50


def best_mode() -> Literal["pidfd", "kqueue", "poll"]:
    """The cheapest way this platform offers to learn of a process's death."""
    if sys.platform == "linux" and hasattr(os, "pidfd_open"):
        return "pidfd"
    if hasattr(select, "kqueue") and hasattr(select, "KQ_NOTE_EXIT"):
        return "kqueue"
    return "poll"


@dataclass(eq=False)
class _Watched:
    """One watched process and everyone awaiting its death."""

    ident: ProcessIdentity
    popen: subprocess.Popen[bytes] | None
    waiters: set[asyncio.Future[ExitInfo]] = field(default_factory=set)
    fd: int | None = None  # the pidfd, while registered with the loop
    info: ExitInfo | None = None  # how it ended, once it has
    registered: asyncio.Future[None] | None = None  # the kernel handle being taken


class ExitWatch:
    """Awaitable deaths of any number of processes, from one loop and at most one thread.

    ``await exits.exited(ident)`` returns the :class:`ExitInfo` once ``ident`` ends (at
    once if it already has). Bound to the loop of its first use; ``close`` lets go of
    every registration (pending awaits are cancelled) and of the threads it started.
    """

    def __init__(self, *, clock: Clock | None = None, mode: Mode = "auto",
                 poll_interval_s: float = POLL_INTERVAL_S) -> None:
        self.clock = clock or SystemClock()
        self.mode: Literal["pidfd", "kqueue", "poll"] = best_mode() if mode == "auto" else mode
        self.poll_interval_s = poll_interval_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watched: dict[int, _Watched] = {}
        self._lock = threading.Lock()  # _watched is read by the poll thread
        #: identity checks read /proc: one worker of our own, never the shared pool
        self._worker: ThreadPoolExecutor | None = None
        self._poller: threading.Thread | None = None
        self._closed = threading.Event()
        self._kq: object | None = None

    # ---------------------------------------------------------------- the interface

    async def exited(self, ident: ProcessIdentity) -> ExitInfo:
        """Wait until the process ``ident`` names has ended; how it ended."""
        loop = self._bind()
        entry = self._claim(ident)
        fut: asyncio.Future[ExitInfo] = loop.create_future()
        entry.waiters.add(fut)
        try:
            if entry.registered is not None:  # shared: one await giving up stops no other
                await asyncio.shield(entry.registered)
            if entry.info is not None:  # ended before (or while) it was registered
                return entry.info
            return await fut
        finally:
            entry.waiters.discard(fut)
            if not entry.waiters:
                self._forget(entry)

    def exit_future(self, ident: ProcessIdentity) -> asyncio.Future[ExitInfo]:
        """``ident``'s death as a future, with no task awaiting it (the watcher's
        scheduler hangs a callback on it: no sleeping coroutine per target). Cancel it to
        stop waiting; the registration goes once nobody waits."""
        loop = self._bind()
        entry = self._claim(ident)
        fut: asyncio.Future[ExitInfo] = loop.create_future()
        entry.waiters.add(fut)

        def settled(_: object) -> None:
            entry.waiters.discard(fut)
            if not entry.waiters:
                self._forget(entry)

        def registered(done: asyncio.Future[None]) -> None:
            if fut.done():
                return
            failed = None if done.cancelled() else done.exception()
            if failed is not None:
                fut.set_exception(failed)
            elif entry.info is not None:  # ended before (or while) it was registered
                fut.set_result(entry.info)

        fut.add_done_callback(settled)
        if entry.info is not None:
            fut.set_result(entry.info)
        elif entry.registered is not None:
            entry.registered.add_done_callback(registered)
        return fut

    def watching(self) -> int:
        """How many processes are registered now (none once every await has ended)."""
        with self._lock:
            return len(self._watched)

    def close(self) -> None:
        """Drop every registration and stop the threads; the loop may be closed after."""
        self._closed.set()
        with self._lock:
            entries = list(self._watched.values())
        for entry in entries:
            self._forget(entry)
            for fut in entry.waiters:
                fut.cancel()
        if self._kq is not None:
            self._close_kqueue()
        if self._worker is not None:
            self._worker.shutdown(wait=False, cancel_futures=True)
            self._worker = None
        self._loop = None

    # ---------------------------------------------------------------- registration

    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop is not loop and not self._loop.is_closed():
            raise RuntimeError("an ExitWatch serves one event loop; close it before reuse")
        self._loop = loop
        self._closed.clear()
        return loop

    def _claim(self, ident: ProcessIdentity) -> _Watched:
        """The registration for ``ident``: shared by every await, made once."""
        with self._lock:
            entry = self._watched.get(ident.pid)
        if entry is not None and entry.ident == ident:
            return entry
        if entry is not None:  # the pid now names another process: the old one ended
            self._finish(entry)
        entry = _Watched(ident, own_child(ident))
        with self._lock:
            self._watched[ident.pid] = entry
        if self.mode == "poll":
            self._start_poller()
        else:
            entry.registered = asyncio.ensure_future(self._registration(entry))
        return entry

    async def _registration(self, entry: _Watched) -> None:
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="remi-exitwatch")
        assert self._loop is not None
        alive = await self._loop.run_in_executor(self._worker, self._register, entry)
        if not alive:
            self._finish(entry)

    def _register(self, entry: _Watched) -> bool:
        """Take the kernel handle, then check identity; False: it has already ended."""
        if self.mode == "kqueue":
            return self._register_kqueue(entry)
        try:
            fd = os.pidfd_open(entry.ident.pid)
        except ProcessLookupError:
            return False
        except OSError as exc:  # no pidfd here after all (old kernel, seccomp)
            log.warning("pidfd_open is unavailable (%s); watching processes by polling",
                        exc.strerror or exc)
            self.mode = "poll"
            self._start_poller()
            return True
        if not is_alive(entry.ident):  # gone, or the pid was reused before the handle
            os.close(fd)
            return False
        entry.fd = fd
        loop = self._loop
        try:
            if loop is None:
                raise RuntimeError("closed")
            loop.call_soon_threadsafe(self._add_reader, entry)
        except RuntimeError:  # the watch (or its loop) closed while the handle was taken
            entry.fd = None
            os.close(fd)
        return True

    def _add_reader(self, entry: _Watched) -> None:
        with self._lock:
            wanted = self._watched.get(entry.ident.pid) is entry
        if entry.fd is None or self._loop is None or self._loop.is_closed():
            return
        if not wanted:  # nobody awaits it any more (forgotten while the handle was taken)
            fd, entry.fd = entry.fd, None
            os.close(fd)
            return
        self._loop.add_reader(entry.fd, self._finish, entry)

    def _forget(self, entry: _Watched) -> None:
        """Unregister ``entry`` (its process ended, or nobody waits for it any more)."""
        with self._lock:
            if self._watched.get(entry.ident.pid) is entry:
                del self._watched[entry.ident.pid]
        fd, entry.fd = entry.fd, None
        if fd is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(fd)
            os.close(fd)

    # ---------------------------------------------------------------- the end

    def _finish(self, entry: _Watched, tries: int = REAP_TRIES) -> None:
        """The process ended: reap our child, tell every waiter (on the loop)."""
        self._forget(entry)
        code = entry.popen.poll() if entry.popen is not None else None
        if entry.popen is not None and code is None and tries > 0 and self._loop is not None:
            # another thread is inside Popen.wait on it, and reaps it in a moment
            self._loop.call_later(REAP_RETRY_S, self._finish, entry, tries - 1)
            return
        info = entry.info = self._info(entry.ident, code)
        for fut in entry.waiters:
            if not fut.done():
                fut.set_result(info)

    def _info(self, ident: ProcessIdentity, code: int | None) -> ExitInfo:
        if code is None:
            return ExitInfo(ident.pid, None, None, self.clock.now(), known=False)
        return ExitInfo(ident.pid, code, -code if code < 0 else None, self.clock.now())

    # ---------------------------------------------------------------- poll fallback

    def _start_poller(self) -> None:
        with self._lock:
            if self._poller is not None and self._poller.is_alive():
                return
            self._poller = threading.Thread(target=self._poll, name="remi-exitwatch-poll",
                                            daemon=True)
            self._poller.start()

    def _poll(self) -> None:
        """The fallback: one thread looks at every watched process in turn."""
        while not self._closed.wait(self.poll_interval_s):
            with self._lock:
                entries = [e for e in self._watched.values() if e.fd is None]
            for entry in entries:
                if not _ended(entry):
                    continue
                loop = self._loop
                if loop is None or loop.is_closed():
                    return
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(self._finish, entry)

    # ---------------------------------------------------------------- kqueue (macOS)

    def _register_kqueue(self, entry: _Watched) -> bool:
        if sys.platform != "linux" and sys.platform != "win32":
            with self._lock:
                if self._kq is None:
                    kq = select.kqueue()
                    self._kq = kq
                    assert self._loop is not None
                    self._loop.call_soon_threadsafe(self._loop.add_reader, kq.fileno(),
                                                    self._drain_kqueue)
            event = select.kevent(entry.ident.pid, filter=select.KQ_FILTER_PROC,
                                  flags=select.KQ_EV_ADD | select.KQ_EV_ONESHOT,
                                  fflags=select.KQ_NOTE_EXIT)
            try:
                self._kqueue().control([event], 0, 0)
            except OSError as exc:
                if exc.errno == errno.ESRCH:  # already gone
                    return False
                raise
            return is_alive(entry.ident)
        raise RuntimeError("kqueue is not available on this platform")

    def _kqueue(self) -> Any:  # select.kqueue, which typeshed has only off Linux
        return self._kq

    def _drain_kqueue(self) -> None:
        """The kqueue's fd turned readable: every process whose exit it holds has ended."""
        for event in self._kqueue().control(None, 64, 0):
            with self._lock:
                entry = self._watched.get(event.ident)
            if entry is not None:
                self._finish(entry)

    def _close_kqueue(self) -> None:
        kq = self._kqueue()
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(kq.fileno())
        kq.close()
        self._kq = None


def _ended(entry: _Watched) -> bool:
    """The poll thread's look: our child through its Popen (which reaps it), else psutil."""
    if entry.popen is not None:
        return entry.popen.poll() is not None
    return not is_alive(entry.ident)
