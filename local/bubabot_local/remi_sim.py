"""The Remi simulator: a stand-in for Remi in local mode and tests. It is NOT Remi.

A real Python program that behaves like a discord.py bot from the outside: it logs the way
discord.py does (``[YYYY-mm-dd HH:MM:SS] [LEVEL   ] logger: message`` on stderr), prints
ordinary output on stdout, runs an asyncio main loop with ``remi_ops.beacon`` started, and
can be told to misbehave exactly the way the 2026-01-24 incident did::

    python -m bubabot_local.remi_sim run [--crash-after S] [--exit-code N --exit-after S]
                                         [--hang-after S] [--spawn-child] [--traceback-every S]
                                         [--heartbeat-warn-s S] [--discord] …
    python -m bubabot_local.remi_sim scan [--url URL] [--mode pass|fail|hang]

Control file (``$REMI_SIM_CONTROL``, else ``<workdir>/.remi_sim_control``): one JSON object
or JSON lines, polled every 0.2 s by the running simulator and consumed once read. Write it
atomically (temp file + rename) so a half-written file is never read. Commands:

- ``{"do": "crash"}`` — an unhandled exception: interpreter traceback on stderr, exit 1
- ``{"do": "exit", "code": N}`` — exit with code N (default 1)
- ``{"do": "hang", "seconds": S}`` — block the event loop in ``fetch_track`` (default 1 h)
- ``{"do": "error"}`` — log the incident's NameError traceback (logger ``remi.scoring``)
- ``{"do": "spawn_child"}`` — a sleeping grandchild, its pid in ``.remi_sim_child.pid``
- ``{"do": "scan_mode", "mode": "pass|fail|hang"}`` — for ``scan`` and ``/scan`` (persisted
  in ``.remi_sim_state.json``)
- ``{"do": "gateway", "event": "connected|resumed|invalidated|reconnect"}`` — discord.py's
  gateway lines (``reconnect`` is the ERROR "Attempting a reconnect" with a traceback)
- ``{"do": "log", "level": "WARNING", "logger": "remi", "message": "…"}`` — any line

Signals: SIGTERM/SIGINT → clean shutdown, exit 0 (unless the loop is blocked, as in Remi);
SIGUSR1 → every thread's stack on stderr (faulthandler, registered by the beacon).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bubabot_local import remi_sim_faults as faults
from remi_ops import beacon

ENV_CONTROL = "REMI_SIM_CONTROL"
CONTROL_FILE = ".remi_sim_control"
POLL_S = 0.2
LOG_FORMAT = "[{asctime}] [{levelname:<8}] {name}: {message}"
LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
NOT_REMI = "this is the Remi simulator, NOT Remi (bubabot local mode / tests)"

log = logging.getLogger("remi_sim")


@dataclass(frozen=True, slots=True)
class RunOptions:
    """What ``run`` was asked to do; faults scheduled at start are seconds after start."""

    workdir: Path
    control_file: Path
    crash_after_s: float | None = None
    exit_code: int = 1
    exit_after_s: float | None = None
    hang_after_s: float | None = None
    hang_for_s: float = faults.DEFAULT_HANG_S
    spawn_child: bool = False
    traceback_every_s: float | None = None
    heartbeat_interval_s: float = 1.0
    heartbeat_warn_s: float = 10.0
    beacon_interval_s: float | None = None
    beacon_dump_after_s: float | None = None
    discord: bool = False
    guild_id: int = 0


class Simulator:
    """The bot-like main loop: announce, poll the control file, obey, shut down."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.exit_code: int | None = None
        self.url = faults.DEFAULT_URL
        self._queue: deque[Mapping[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._keepalive: faults.KeepAlive | None = None
        self._handlers = {
            "crash": self._crash,
            "exit": self._exit,
            "hang": self._hang,
            "error": self._error,
            "spawn_child": self._spawn_child,
            "scan_mode": self._scan_mode,
            "gateway": self._gateway,
            "log": self._log,
        }

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> int:
        """Run until told to stop; return the exit code (a crash raises instead)."""
        self.start_services(keepalive=True)
        announce_login()
        print("Remi (simulated) is online and listening for /scan", flush=True)
        try:
            while self.exit_code is None:
                await self.serve_once()
        finally:
            self.stop_services(clean=False)
        beacon.stop()
        return self.exit_code

    def start_services(self, *, keepalive: bool) -> None:
        """Signals, beacon, keep-alive thread and the faults asked for on the command line."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig.name)
        opts = self.options
        log.info("Remi simulator starting (pid %d); %s", os.getpid(), NOT_REMI)
        beacon.start(interval_s=opts.beacon_interval_s, dump_after_s=opts.beacon_dump_after_s)
        if keepalive:
            self._keepalive = faults.KeepAlive(
                loop, opts.heartbeat_interval_s, opts.heartbeat_warn_s
            )
            self._keepalive.start()
        self._schedule_cli_faults(loop)

    def stop_services(self, *, clean: bool) -> None:
        """Stop the keep-alive thread (and the beacon on a clean stop)."""
        if self._keepalive is not None:
            self._keepalive.stop()
        if clean:
            beacon.stop()

    def request_stop(self, signal_name: str) -> None:
        """Signal handler (runs on the loop): shut down cleanly with exit code 0."""
        log.info("Received %s; shutting down cleanly (simulated)", signal_name)
        self.exit_code = 0
        self._wake.set()

    async def serve_once(self) -> None:
        """Wait up to one poll interval, then obey queued and control-file commands."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), POLL_S)
        self._wake.clear()
        commands, problems = faults.take_control_commands(self.options.control_file)
        for problem in problems:
            log.warning("ignoring control input: %s", problem)
        self._queue.extend(commands)
        while self._queue and self.exit_code is None:
            await self.execute(self._queue.popleft())

    def _schedule_cli_faults(self, loop: asyncio.AbstractEventLoop) -> None:
        opts = self.options
        timed: list[tuple[float | None, Mapping[str, Any]]] = [
            (opts.crash_after_s, {"do": "crash"}),
            (opts.exit_after_s, {"do": "exit", "code": opts.exit_code}),
            (opts.hang_after_s, {"do": "hang", "seconds": opts.hang_for_s}),
        ]
        for delay, command in timed:
            if delay is not None:
                loop.call_later(delay, self.enqueue, command)
        if opts.spawn_child:
            self.enqueue({"do": "spawn_child"})
        if opts.traceback_every_s:
            self._repeat(loop, opts.traceback_every_s, {"do": "error"})

    def _repeat(
        self, loop: asyncio.AbstractEventLoop, every_s: float, command: Mapping[str, Any]
    ) -> None:
        def again() -> None:
            self.enqueue(command)
            self._repeat(loop, every_s, command)

        loop.call_later(every_s, again)

    def enqueue(self, command: Mapping[str, Any]) -> None:
        """Queue a command for the main loop (on the loop thread)."""
        self._queue.append(command)
        self._wake.set()

    # ------------------------------------------------------------------ commands

    async def execute(self, command: Mapping[str, Any]) -> None:
        """Obey one control command; a bad one is logged and ignored."""
        handler = self._handlers.get(str(command.get("do", "")))
        if handler is None:
            log.warning("unknown control command %s", dict(command))
            return
        try:
            await handler(command)
        except (TypeError, ValueError) as exc:
            log.warning("bad control command %s: %s", dict(command), exc)

    async def _crash(self, _command: Mapping[str, Any]) -> None:
        raise faults.SimulatedCrash("simulated crash, as requested")

    async def _exit(self, command: Mapping[str, Any]) -> None:
        code = int(command.get("code", 1))
        log.warning("exiting with code %d as asked (simulated)", code)
        self.exit_code = code

    async def _hang(self, command: Mapping[str, Any]) -> None:
        seconds = float(command.get("seconds", faults.DEFAULT_HANG_S))
        log.info("scanning %s (this blocks the event loop for %.1f s)", self.url, seconds)
        faults.block_event_loop(self.url, seconds)
        log.info("scan of %s finished after blocking the event loop", self.url)

    async def _error(self, _command: Mapping[str, Any]) -> None:
        await faults.log_scoring_error(self.url, self.options.workdir)

    async def _spawn_child(self, _command: Mapping[str, Any]) -> None:
        pid = faults.spawn_child(self.options.workdir)
        log.info("started helper process %d", pid)

    async def _scan_mode(self, command: Mapping[str, Any]) -> None:
        mode = faults.save_scan_mode(self.options.workdir, str(command.get("mode", "")))
        log.info("scan mode is now %s (simulated)", mode)

    async def _gateway(self, command: Mapping[str, Any]) -> None:
        faults.log_gateway_event(str(command.get("event", "")))

    async def _log(self, command: Mapping[str, Any]) -> None:
        level = logging.getLevelName(str(command.get("level", "INFO")).upper())
        if not isinstance(level, int):
            raise ValueError(f"unknown level {command.get('level')!r}")
        logging.getLogger(str(command.get("logger", "remi"))).log(
            level, "%s", str(command.get("message", ""))
        )


def announce_login() -> None:
    """The lines discord.py logs when a plain Client logs in and connects."""
    client_log = logging.getLogger("discord.client")
    client_log.warning("PyNaCl is not installed, voice will NOT be supported")
    client_log.info("logging in using static token")
    logging.getLogger("discord.gateway").info(
        "Shard ID %s has connected to Gateway (Session ID: %s).", None, secrets.token_hex(16)
    )


# --------------------------------------------------------------------------- entry points


def setup_logging() -> None:
    """discord.utils.setup_logging's plain layout, on stderr, for every logger at INFO."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT, style="{"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def scan(url: str, mode: str | None, workdir: Path) -> int:
    """One out-of-band run of the scan path, as the persisted (or given) scan mode says."""
    chosen = mode or faults.load_scan_mode(workdir)
    if chosen == "hang":
        faults.block_event_loop(url, faults.FOREVER_S)
    if chosen == "fail":
        faults.print_scoring_crash(url, workdir)
        return 1
    print(f"scan ok: {url} score={faults.SIM_SCORE} (simulated)", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``run`` and ``scan`` subcommands."""
    parser = argparse.ArgumentParser(
        prog="python -m bubabot_local.remi_sim", description=f"Remi simulator: {NOT_REMI}."
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="state and pid files go here (default: current directory)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot-like main loop")
    run.add_argument("--control", type=Path, default=None, help=f"control file (${ENV_CONTROL})")
    for flag in ("--crash-after", "--exit-after", "--hang-after", "--traceback-every"):
        run.add_argument(flag, type=float, default=None, metavar="S")
    run.add_argument("--exit-code", type=int, default=1, metavar="N")
    run.add_argument("--hang-for", type=float, default=faults.DEFAULT_HANG_S, metavar="S")
    run.add_argument("--spawn-child", action="store_true")
    run.add_argument("--heartbeat-interval-s", type=float, default=1.0, metavar="S")
    run.add_argument("--heartbeat-warn-s", type=float, default=10.0, metavar="S")
    run.add_argument("--beacon-interval-s", type=float, default=None, metavar="S")
    run.add_argument("--beacon-dump-after-s", type=float, default=None, metavar="S")
    run.add_argument(
        "--discord",
        action="store_true",
        help="run a real discord.Client against $BUBABOT_DISCORD_API_BASE",
    )
    run.add_argument("--guild-id", type=int, default=0, metavar="ID")
    scan_cmd = sub.add_parser("scan", help="run the /scan path once, out of band")
    scan_cmd.add_argument("--url", default=faults.DEFAULT_URL)
    scan_cmd.add_argument("--mode", choices=faults.SCAN_MODES, default=None)
    return parser


def run_options(args: argparse.Namespace, workdir: Path, environ: Mapping[str, str]) -> RunOptions:
    """Command-line arguments and environment → ``RunOptions``."""
    control = args.control or Path(environ.get(ENV_CONTROL) or workdir / CONTROL_FILE)
    use_discord = args.discord or bool(
        environ.get("BUBABOT_DISCORD_API_BASE") and environ.get("REMI_DISCORD_TOKEN")
    )
    return RunOptions(
        workdir=workdir,
        control_file=control,
        crash_after_s=args.crash_after,
        exit_code=args.exit_code,
        exit_after_s=args.exit_after,
        hang_after_s=args.hang_after,
        hang_for_s=args.hang_for,
        spawn_child=args.spawn_child,
        traceback_every_s=args.traceback_every,
        heartbeat_interval_s=args.heartbeat_interval_s,
        heartbeat_warn_s=args.heartbeat_warn_s,
        beacon_interval_s=args.beacon_interval_s,
        beacon_dump_after_s=args.beacon_dump_after_s,
        discord=use_discord,
        guild_id=args.guild_id or int(environ.get("REMI_SIM_GUILD_ID") or 0),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    workdir = (args.workdir or Path.cwd()).absolute()
    setup_logging()
    with contextlib.suppress(AttributeError):
        # typed as TextIO, which has no reconfigure(); a replaced stdout raises AttributeError
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if args.command == "scan":
        return scan(args.url, args.mode, workdir)
    options = run_options(args, workdir, os.environ)
    if options.discord:
        from bubabot_local.remi_sim_discord import run_discord  # noqa: PLC0415 - lazy discord

        return asyncio.run(run_discord(Simulator(options)))
    return asyncio.run(Simulator(options).run())


if __name__ == "__main__":
    sys.exit(main())
