"""The event-loop beacon: a stdlib-only drop-in that makes a blocked loop visible from outside.

Remi starts it in two lines, from inside its running loop (``setup_hook`` is a good place)::

    from remi_ops import beacon
    beacon.start()  # path from $REMI_BEACON_FILE, else ./.remi_beacon.json

Two halves, so that the evidence never depends on the loop it is about:

- **On the loop**, a ``call_later`` chain beats every ``interval_s`` and records, in memory
  only, when it last ran and how late it ran (the loop lag). No file I/O happens on the loop.
- **On a daemon thread**, the beacon file is rewritten every ``interval_s``, atomically (temp
  file in the same directory, fsync, ``os.replace``). When the loop has not beaten for
  ``dump_after_s`` the thread also captures the loop thread's current stack into
  ``stuck_stack``, so the file names the blocking call (``fetch_track`` …) before discord.py's
  own 10-s "heartbeat blocked" warning.

The file (schema 1)::

    {"schema": 1, "pid": 4242, "written_at": <epoch s>, "last_beat_at": <epoch s>,
     "loop_lag_s": <how late the last beat ran>, "max_lag_s": <worst since the last write>,
     "interval_s": 2.0, "blocked_for_s": <now − last beat − interval; 0 within a grace of
     half an interval (≤ 1 s)>, "stuck_stack": <text or null>, "stopped": <clean stop>}

Reading it (``read_beacon``, from ``remi_ops.beacon.reader``): ``written_at`` fresh but
``last_beat_at`` stale means the loop is blocked; everything stale means the process is
frozen, stopped or dead. ``python -m remi_ops.beacon check`` turns one reading into an exit
code for a Kubernetes liveness probe, a Docker ``HEALTHCHECK`` or a Nomad script check
(``remi_ops.beacon.check``).

Under systemd (``$NOTIFY_SOCKET`` set), each beat the loop makes also sends ``WATCHDOG=1``,
and the first sends ``READY=1`` (``remi_ops.beacon.sdnotify``), for ``Type=notify`` and
``WatchdogSec=``. Only the loop pings, never the writer thread: a blocked loop goes silent.

``start`` also registers ``faulthandler`` on SIGUSR1, so ``kill -USR1 <pid>`` dumps every
thread's stack to stderr (Remi's ``bot_error.log``).

This package (``reader``, ``check``, ``sdnotify``, ``__main__``) and ``remi_ops.atomicfile``
import nothing outside the standard library (a test enforces it), so Remi needs no
dependency for them: copy ``remi_ops/beacon/`` and ``remi_ops/atomicfile.py`` into Remi
(with an empty ``remi_ops/__init__.py``) if it does not install ``remi_ops``.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import json
import math
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from remi_ops.atomicfile import write_atomically
from remi_ops.beacon.reader import (
    DEFAULT_FILE,
    ENV_FILE,
    SCHEMA,
    BeaconReading,
    beacon_path,
    read_beacon,
)
from remi_ops.beacon.sdnotify import READY, WATCHDOG, Notifier

__all__ = ["DEFAULT_FILE", "ENV_DUMP_AFTER", "ENV_FILE", "ENV_INTERVAL", "SCHEMA",
           "BeaconReading", "read_beacon", "running_path", "start", "stop"]

ENV_INTERVAL = "REMI_BEACON_INTERVAL_S"
ENV_DUMP_AFTER = "REMI_BEACON_DUMP_AFTER_S"
DEFAULT_INTERVAL_S = 2.0
DEFAULT_DUMP_AFTER_S = 5.0
#: innermost frames kept in ``stuck_stack``; the blocking call is at the bottom
STACK_LIMIT = 40
STACK_HEADER = "Loop thread stack (most recent call last):\n"


class _Beacon:
    """One running beacon: the loop-side beat and the writer thread."""

    def __init__(self, path: Path, loop: asyncio.AbstractEventLoop, interval_s: float,
                 dump_after_s: float, notifier: Notifier | None = None) -> None:
        self.path = path
        self.notifier = notifier
        self._ready_sent = False
        self.loop = loop
        self.interval_s = interval_s
        self.dump_after_s = dump_after_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._handle: asyncio.Handle | None = None
        self._loop_thread_id: int | None = None
        self._last_beat_mono = time.monotonic()
        self._last_beat_wall = time.time()
        self._expected_mono = self._last_beat_mono
        self._lag_s = 0.0
        self._max_lag_s = 0.0
        self._thread = threading.Thread(target=self._write_forever, name="remi-beacon",
                                        daemon=True)

    # ------------------------------------------------------------------ loop side

    def begin(self) -> None:
        """Schedule the first beat on the loop and start the writer thread."""
        self._handle = self.loop.call_soon(self._beat)
        self._thread.start()

    def _beat(self) -> None:
        """Runs on the loop: record the beat and its lag, schedule the next one."""
        now = time.monotonic()
        with self._lock:
            self._loop_thread_id = threading.get_ident()
            self._lag_s = max(0.0, now - self._expected_mono)
            self._max_lag_s = max(self._max_lag_s, self._lag_s)
            self._last_beat_mono = now
            self._last_beat_wall = time.time()
            self._expected_mono = now + self.interval_s
        if not self._stop.is_set():
            self._tell_systemd()
            self._handle = self.loop.call_later(self.interval_s, self._beat)

    def _tell_systemd(self) -> None:
        """On the loop, from the beat it just ran: ``READY=1`` once, then ``WATCHDOG=1``.

        Only a beat the loop actually made pings, so ``WatchdogSec=`` sees a blocked loop
        as silence (the writer thread keeps writing the file, but never pings).
        """
        if self.notifier is None:
            return
        if not self._ready_sent:
            self._ready_sent = self.notifier.send(READY)
        self.notifier.send(WATCHDOG)

    # ------------------------------------------------------------------ thread side

    def _write_forever(self) -> None:
        """Write at once (the file appears as the bot starts), then every interval."""
        self.write()
        while not self._stop.wait(self.interval_s):
            self.write()

    def write(self, *, stopped: bool = False) -> None:
        """Write the current state to the beacon file; never raises."""
        with contextlib.suppress(OSError, ValueError):
            write_atomically(self.path, json.dumps(self.snapshot(stopped=stopped)))

    def snapshot(self, *, stopped: bool = False) -> dict[str, Any]:
        """The beacon document as of now; resets ``max_lag_s``."""
        now_mono, now_wall = time.monotonic(), time.time()
        with self._lock:
            since_beat = now_mono - self._last_beat_mono
            doc: dict[str, Any] = {
                "schema": SCHEMA,
                "pid": os.getpid(),
                "written_at": now_wall,
                "last_beat_at": self._last_beat_wall,
                "loop_lag_s": round(self._lag_s, 4),
                "max_lag_s": round(max(self._max_lag_s, self._lag_s), 4),
                "interval_s": self.interval_s,
                "blocked_for_s": round(_overdue(since_beat, self.interval_s), 3),
                "stuck_stack": None,
                "stopped": stopped,
            }
            self._max_lag_s = 0.0
            thread_id = self._loop_thread_id
        if since_beat >= self.dump_after_s and thread_id is not None and not stopped:
            doc["stuck_stack"] = _stack_of(thread_id)
        return doc

    def finish(self) -> None:
        """Stop beating and writing; leave a last file that says the beacon stopped."""
        self._stop.set()
        handle = self._handle
        if handle is not None:
            if self._on_loop_thread():
                handle.cancel()
            elif not self.loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    self.loop.call_soon_threadsafe(handle.cancel)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=max(1.0, self.interval_s * 2))
        self.write(stopped=True)
        if self.notifier is not None:
            self.notifier.close()

    def _on_loop_thread(self) -> bool:
        with contextlib.suppress(RuntimeError):
            return asyncio.get_running_loop() is self.loop
        return False


_current: _Beacon | None = None
_start_lock = threading.Lock()


def start(path: str | os.PathLike[str] | None = None, *, interval_s: float | None = None,
          dump_after_s: float | None = None) -> Path:
    """Start the beacon for the running loop and return the beacon file's path.

    Call it from inside the running event loop. ``path`` defaults to ``$REMI_BEACON_FILE``,
    else ``.remi_beacon.json`` in the working directory; ``interval_s`` and ``dump_after_s``
    default to ``$REMI_BEACON_INTERVAL_S`` / ``$REMI_BEACON_DUMP_AFTER_S``, else 2 s and 5 s.
    Idempotent: a second call for the same loop returns the running beacon's path; a call
    from a new loop (after ``client.run`` returned and another began) moves the beacon there.
    """
    global _current  # noqa: PLW0603 - one beacon per process, like faulthandler itself
    loop = asyncio.get_running_loop()
    with _start_lock:
        if _current is not None and _current.loop is loop and not _current.loop.is_closed():
            return _current.path
        if _current is not None:
            _current.finish()
        beacon = _Beacon(beacon_path(path), loop,
                         _setting(interval_s, ENV_INTERVAL, DEFAULT_INTERVAL_S),
                         _setting(dump_after_s, ENV_DUMP_AFTER, DEFAULT_DUMP_AFTER_S),
                         Notifier.from_environment())
        beacon.begin()
        _current = beacon
    _register_stack_dump()
    return beacon.path


def stop() -> None:
    """Stop the beacon (clean shutdown). Safe to call when it is not running."""
    global _current
    with _start_lock:
        beacon, _current = _current, None
    if beacon is not None:
        beacon.finish()
    _unregister_stack_dump()


def running_path() -> Path | None:
    """The file the running beacon writes, or None when it is not running."""
    beacon = _current
    return beacon.path if beacon is not None else None


# --------------------------------------------------------------------------- helpers


def _setting(value: float | None, env_name: str, default: float) -> float:
    """An explicit value, else a positive number from the environment, else the default."""
    if value is not None:
        if value <= 0:
            raise ValueError(f"{env_name.lower()} must be > 0, got {value}")
        return float(value)
    try:
        from_env = float(os.environ.get(env_name, ""))
    except ValueError:
        return default
    return from_env if math.isfinite(from_env) and from_env > 0 else default


def _overdue(since_beat: float, interval_s: float) -> float:
    """How long the loop has been overdue: ``since_beat − interval``, or 0 within the grace.

    The grace (half an interval, at most 1 s) hides ordinary scheduling jitter, so a healthy
    loop always reads ``0.0`` and any positive value means the loop really missed a beat.
    """
    overdue = since_beat - interval_s
    return overdue if overdue > min(1.0, interval_s / 2) else 0.0


def _stack_of(thread_id: int) -> str | None:
    """The given thread's current stack, formatted like a traceback (innermost last)."""
    frame = sys._current_frames().get(thread_id)
    if frame is None:
        return None
    return STACK_HEADER + "".join(traceback.format_stack(frame, limit=STACK_LIMIT))


def _register_stack_dump() -> None:
    """``kill -USR1 <pid>`` → every thread's stack on stderr (where available)."""
    usr1 = getattr(signal, "SIGUSR1", None)
    if usr1 is None or sys.stderr is None:
        return
    with contextlib.suppress(AttributeError, OSError, RuntimeError, ValueError):
        faulthandler.register(usr1, file=sys.stderr, all_threads=True, chain=False)


def _unregister_stack_dump() -> None:
    usr1 = getattr(signal, "SIGUSR1", None)
    if usr1 is not None:
        with contextlib.suppress(AttributeError, RuntimeError, ValueError):
            faulthandler.unregister(usr1)
