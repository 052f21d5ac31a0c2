"""What the Remi simulator does wrong on purpose. The simulator is NOT Remi.

Each fault mirrors the 2026-01-24 incident closely enough that the evidence looks real:

- a synchronous SoundCloud client whose ``fetch_track`` blocks the event loop on a socket
  read (Remi's sync HTTP calls), so stack dumps name ``score_track_sync`` → ``fetch_track``;
- ``packages/core/analyzers/scoring_async.py`` with the missing ``import asyncio``, so
  ``score_batch_async`` raises the incident's real ``NameError`` at
  ``results = await asyncio.gather(*tasks)``;
- discord.py's keep-alive thread, which warns "heartbeat blocked for more than N seconds"
  with the loop thread's stack every N seconds while the loop is stuck.

Plus the plumbing the simulator needs: the control file, the persisted scan mode and a
grandchild process for tree-kill tests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import linecache
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any

DEFAULT_URL = "https://soundcloud.com/remi-sim/simulated-track"
SIM_SCORE = 87
SCAN_MODES = ("pass", "fail", "hang")
STATE_FILE = ".remi_sim_state.json"
CHILD_PID_FILE = ".remi_sim_child.pid"
DEFAULT_HANG_S = 3600.0
FOREVER_S = 1e9
#: the grandchild ends by itself after an hour, so a test that leaks one does not leak forever
CHILD_CODE = "import time; time.sleep(3600)  # remi_sim helper process"
SCORING_ASYNC_PATH = Path("packages/core/analyzers/scoring_async.py")
BLOCK_MSG = "Shard ID %s heartbeat blocked for more than %s seconds."
LOOP_STACK_MSG = "\nLoop thread traceback (most recent call last):\n%s"
BEHIND_MSG = "Can't keep up, shard ID %s websocket is %.1fs behind."

gateway_log = logging.getLogger("discord.gateway")
_children: list[subprocess.Popen[bytes]] = []


class SimulatedCrash(RuntimeError):
    """The unhandled exception of ``{"do": "crash"}``."""


# --------------------------------------------------------------------------- blocking I/O


class SoundCloudClient:
    """Like Remi's synchronous SoundCloud HTTP client: its reads block whoever calls them."""

    def fetch_track(self, url: str, block_s: float) -> dict[str, Any]:
        """Fetch a track's metadata; blocks up to ``block_s`` waiting for an answer."""
        body = self._read_response(block_s)
        return {"url": url, "bytes": len(body)}

    def _read_response(self, block_s: float) -> bytes:
        deadline = time.monotonic() + block_s
        server, client = socket.socketpair()
        with server, client:
            while (left := deadline - time.monotonic()) > 0:
                client.settimeout(min(left, 1.0))
                with contextlib.suppress(TimeoutError):
                    return client.recv(65536)  # a sync HTTP read nobody answers
        return b""


soundcloud_client = SoundCloudClient()


def score_track_sync(url: str, block_s: float) -> int:
    """Remi's synchronous scoring of one track, called straight from the event loop."""
    track = soundcloud_client.fetch_track(url, block_s)
    return SIM_SCORE if track else 0


def block_event_loop(url: str, seconds: float) -> int:
    """Run the sync scoring path on the calling thread (the loop, in the incident)."""
    return score_track_sync(url, seconds)


# --------------------------------------------------------------------------- the NameError

_SCORING_ASYNC_SOURCE = '''\
"""Batch scoring (the simulator's copy of Remi's module, with the incident's bug)."""

from concurrent.futures import ThreadPoolExecutor  # imported; asyncio was not

EXECUTOR = ThreadPoolExecutor


def _scoring_job(url):
    return {"url": url}


async def score_batch_async(urls):
    tasks = [_scoring_job(url) for url in urls]
    results = await asyncio.gather(*tasks)
    return results
'''

BatchScorer = Callable[[list[str]], Coroutine[Any, Any, Any]]


def scoring_async(workdir: Path) -> BatchScorer:
    """``score_batch_async`` compiled as ``<workdir>/packages/core/analyzers/scoring_async.py``.

    The source is put in ``linecache`` so tracebacks show its lines as if the file existed.
    """
    filename = str(workdir / SCORING_ASYNC_PATH)
    lines = _SCORING_ASYNC_SOURCE.splitlines(keepends=True)
    linecache.cache[filename] = (len(_SCORING_ASYNC_SOURCE), None, lines, filename)
    namespace: dict[str, Any] = {"__name__": "packages.core.analyzers.scoring_async"}
    code = compile(_SCORING_ASYNC_SOURCE, filename, "exec")
    exec(code, namespace)  # noqa: S102 - our own constant source, to get real frames
    scorer: BatchScorer = namespace["score_batch_async"]
    return scorer


async def log_scoring_error(url: str, workdir: Path) -> None:
    """Score a batch, fail with the NameError, log it at ERROR like Remi's scan handler."""
    try:
        await scoring_async(workdir)([url])
    except NameError:
        logging.getLogger("remi.scoring").exception("Error scoring batch for %s", url)


def print_scoring_crash(url: str, workdir: Path) -> None:
    """The out-of-band scan's failure: the NameError traceback on stderr, as uncaught."""
    try:
        asyncio.run(scoring_async(workdir)([url]))
    except NameError:
        traceback.print_exc()


# --------------------------------------------------------------------------- keep-alive


class KeepAlive(threading.Thread):
    """discord.py's KeepAliveHandler in miniature: beats through the loop from a thread and,
    while the loop does not run the beat, warns every ``warn_s`` with the loop's stack."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval_s: float, warn_s: float) -> None:
        super().__init__(name="remi-sim-keep-alive", daemon=True)
        self._loop = loop
        self._loop_thread_id = threading.get_ident()  # created on the loop thread
        self._interval_s = interval_s
        self._warn_s = warn_s
        self._stopped = threading.Event()

    def run(self) -> None:
        """Beat every interval until stopped or the loop is closed."""
        while not self._stopped.wait(self._interval_s):
            beat: concurrent.futures.Future[None] = concurrent.futures.Future()
            sent = time.monotonic()
            try:
                self._loop.call_soon_threadsafe(_ack, beat)
            except RuntimeError:  # the loop is closed
                return
            if not self._wait(beat):
                return
            behind = time.monotonic() - sent
            if behind > self._warn_s:
                gateway_log.warning(BEHIND_MSG, None, behind)

    def stop(self) -> None:
        """Ask the thread to end at its next wake-up."""
        self._stopped.set()

    def _wait(self, beat: concurrent.futures.Future[None]) -> bool:
        warnings = 0
        while True:
            try:
                beat.result(self._warn_s)
            except TimeoutError:
                if self._stopped.is_set():
                    return False
                warnings += 1
                self._warn_blocked(warnings * self._warn_s)
            else:
                return True

    def _warn_blocked(self, total_s: float) -> None:
        shown: float | int = int(total_s) if float(total_s).is_integer() else round(total_s, 3)
        frame = sys._current_frames().get(self._loop_thread_id)
        if frame is None:
            gateway_log.warning(BLOCK_MSG, None, shown)
            return
        stack = "".join(traceback.format_stack(frame))
        gateway_log.warning(BLOCK_MSG + LOOP_STACK_MSG, None, shown, stack)


def _ack(beat: concurrent.futures.Future[None]) -> None:
    if not beat.done():
        beat.set_result(None)


# --------------------------------------------------------------------------- gateway lines


def log_gateway_event(event: str) -> None:
    """The INFO/ERROR lines discord.py logs for gateway events."""
    session = os.urandom(16).hex()
    if event == "resumed":
        gateway_log.info("Shard ID %s has successfully RESUMED session %s.", None, session)
    elif event == "invalidated":
        gateway_log.info("Shard ID %s session has been invalidated.", None)
    elif event == "connected":
        gateway_log.info("Shard ID %s has connected to Gateway (Session ID: %s).", None, session)
    elif event == "reconnect":
        try:
            raise OSError(101, "Network is unreachable")
        except OSError:
            logging.getLogger("discord.client").exception("Attempting a reconnect in %.2fs", 1.5)
    else:
        raise ValueError(f"unknown gateway event {event!r}")


# --------------------------------------------------------------------------- control file


def take_control_commands(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Claim (rename) the control file, read and delete it; (commands, problems)."""
    claimed = path.with_name(f"{path.name}.{os.getpid()}.taken")
    try:
        path.replace(claimed)
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        return [], [f"cannot take {path}: {exc.strerror}"]
    try:
        text = claimed.read_text(encoding="utf-8", errors="replace")
    finally:
        claimed.unlink(missing_ok=True)
    return parse_control(text)


def parse_control(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    """One JSON object, a JSON list of objects, or JSON lines → (commands, problems)."""
    if not text.strip():
        return [], []
    try:
        whole = json.loads(text)
    except ValueError:
        return _parse_lines(text.splitlines())
    return _objects(whole if isinstance(whole, list) else [whole])


def _parse_lines(lines: Iterable[str]) -> tuple[list[dict[str, Any]], list[str]]:
    commands: list[dict[str, Any]] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            found, bad = _objects([json.loads(line)])
        except ValueError:
            found, bad = [], [f"line {number} is not JSON: {line[:80]!r}"]
        commands += found
        problems += bad
    return commands, problems


def _objects(items: Iterable[Any]) -> tuple[list[dict[str, Any]], list[str]]:
    good = [item for item in items if isinstance(item, dict)]
    bad = [f"not a JSON object: {item!r:.80}" for item in items if not isinstance(item, dict)]
    return good, bad


# --------------------------------------------------------------------------- state files


def save_scan_mode(workdir: Path, mode: str) -> str:
    """Persist the scan mode for ``scan`` and ``/scan``; returns it."""
    if mode not in SCAN_MODES:
        raise ValueError(f"scan mode must be one of {', '.join(SCAN_MODES)}, not {mode!r}")
    write_atomically(workdir / STATE_FILE, json.dumps({"scan_mode": mode}) + "\n")
    return mode


def load_scan_mode(workdir: Path) -> str:
    """The persisted scan mode; ``pass`` when none (or an unreadable one) is saved."""
    try:
        doc = json.loads((workdir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "pass"
    mode = doc.get("scan_mode") if isinstance(doc, dict) else None
    return mode if mode in SCAN_MODES else "pass"


def spawn_child(workdir: Path) -> int:
    """Start a sleeping grandchild (same process group); its pid goes to CHILD_PID_FILE."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_CODE],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _children.append(child)
    write_atomically(workdir / CHILD_PID_FILE, f"{child.pid}\n")
    return child.pid


def write_atomically(path: Path, text: str) -> None:
    """Temp file beside ``path``, then rename over it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    Path(tmp).replace(path)
