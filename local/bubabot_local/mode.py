"""Local mode, the embedded default: everything on this machine, no token, no Remi.

``bubabot`` without ``DISCORD_TOKEN`` starts a Discord emulator on 127.0.0.1 (a random
port), builds a small guild in it, starts Bubabot against it exactly as in production,
and lets the engine spawn the Remi simulator as a real discord.py bot in the same
emulated guild. The terminal shows #quick-tasks and takes commands (``console``), so a
person can break the simulator and watch Bubabot notice, alert, restart and report.

Local mode owns the simulator: it stops one left over from an earlier run before
starting (that one would still point at the old emulator's port) and stops its own on
the way out, unlike production, where Bubabot leaves Remi running when it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import sys
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bubabot.app import App, build_app
from bubabot.bot import Bubabot
from bubabot_local.console import Console, Seat
from bubabot_local.console_input import stdin_lines
from bubabot_local.console_text import Names
from bubabot_local.emulator import DiscordEmulator, patch_discord_py, unpatch_discord_py
from bubabot_local.settings import local_settings
from remi_ops import host
from remi_ops.cli.logsetup import LogOptions, rotating_file_handler
from remi_ops.config import Settings, TargetSettings

GUILD = 1_300_000_000_000_000_001
QUICK_TASKS = 1_300_000_000_000_000_002
GENERAL = 1_300_000_000_000_000_003
OPS_ROLE = 1_300_000_000_000_000_010
VIEWER_ROLE = 1_300_000_000_000_000_011
ONCALL_ROLE = 1_300_000_000_000_000_012
YOU = 1_300_000_000_000_000_020
VIEWER = 1_300_000_000_000_000_021
BUBABOT_ID = 1_300_000_000_000_000_030
REMI_ID = 1_300_000_000_000_000_031
READY_WAIT_S = 20.0
#: Discord drops a bot that stops heartbeating; a short interval makes a frozen
#: simulator fall off the (emulated) gateway within seconds, as a frozen Remi would.
HEARTBEAT_MS = 5000
LOG_NAME = "bubabot.log"


@dataclass(frozen=True)
class World:
    """The emulated guild and the two bot accounts in it."""

    seat: Seat
    bubabot_token: str
    remi_token: str

    def discord_settings(self) -> dict[str, object]:
        return {"guild_id": GUILD, "alert_channel_id": QUICK_TASKS,
                "operator_role_ids": [OPS_ROLE], "viewer_role_ids": [VIEWER_ROLE],
                "oncall_role_id": ONCALL_ROLE}


def build_world(emulator: DiscordEmulator) -> World:
    """Guild "Remi HQ": #quick-tasks, #general; roles Ops/Viewer/On-call; you, a viewer, 2 bots.

    Tokens are random per run: they only have to match between the emulator and the bots.
    """
    emulator.add_guild(GUILD, "Remi HQ", owner_id=YOU)
    emulator.add_channel(GUILD, QUICK_TASKS, "quick-tasks")
    emulator.add_channel(GUILD, GENERAL, "general")
    roles = {OPS_ROLE: "Ops", VIEWER_ROLE: "Viewer", ONCALL_ROLE: "On-call"}
    for role_id, role_name in roles.items():
        emulator.add_role(GUILD, role_id, role_name)
    emulator.add_member(GUILD, YOU, "you", [OPS_ROLE, ONCALL_ROLE])
    emulator.add_member(GUILD, VIEWER, "viewer", [VIEWER_ROLE])
    bubabot_token, remi_token = (f"local.{secrets.token_urlsafe(24)}" for _ in range(2))
    emulator.add_bot(bubabot_token, BUBABOT_ID, "Bubabot")
    emulator.add_bot(remi_token, REMI_ID, "Remi (sim)")
    names = Names(users={YOU: "you", VIEWER: "viewer", BUBABOT_ID: "Bubabot",
                         REMI_ID: "Remi (sim)"},
                  roles=roles, channels={QUICK_TASKS: "quick-tasks", GENERAL: "general"})
    seat = Seat(GUILD, QUICK_TASKS, YOU, (bubabot_token, remi_token), names)
    return World(seat, bubabot_token, remi_token)


def settings_for(state: Path | None, emulator: DiscordEmulator, world: World) -> Settings:
    """The bundled local settings, with the simulator joining the emulated guild."""
    return local_settings(state, discord=world.discord_settings(),
                          remi_args=["--discord", "--guild-id", str(GUILD)],
                          remi_env={**emulator.env(), "REMI_DISCORD_TOKEN": world.remi_token})


@dataclass
class LocalSimulator:
    """The console's handle on the simulator: its pid and state come from the engine."""

    app: App

    @property
    def target(self) -> TargetSettings:
        return self.app.watcher.watch(None).target

    @property
    def workdir(self) -> Path:
        return self.target.workdir

    def pid(self) -> int | None:
        ident = self.app.watcher.watch(None).supervisor.process
        return None if ident is None else ident.pid

    def status_lines(self) -> list[str]:
        watch = self.app.watcher.watch(None)
        sup = watch.supervisor
        pid = "no process" if sup.process is None else f"pid {sup.process.pid}"
        if sup.process is not None and (snap := host.snapshot(sup.process)) is not None:
            pid += f" ({snap.status}, up {snap.uptime_s:.0f} s)"
        lines = [f"Remi simulator: {pid}; supervisor: {sup.state} — {sup.reason or '-'}"]
        report = watch.last_report
        if report is not None:
            found = "; ".join(f.summary for f in report.findings[:3]) or "no findings"
            lines.append(f"last check: {report.status} at "
                         f"{report.checked_at.astimezone():%H:%M:%S} — {found}")
        return lines


def stop_simulators(target: TargetSettings, state_dir: Path) -> list[int]:
    """Stop every copy of the simulator under ``state_dir``; their pids (blocking)."""
    manager = host.make_manager(target, state_dir)
    found = [ident.pid for ident in manager.find()]
    if found:
        manager.stop(None, target.restart.stop_grace_s)
    return found


def clear_leftovers(settings: Settings) -> list[int]:
    """Under the target's lock (so a running local mode's simulator is left alone)."""
    target = settings.targets[0]
    lock = host.TargetLock(target)
    lock.acquire()  # LockHeld: another local mode runs here; nothing is touched
    try:
        return stop_simulators(target, settings.state_dir)
    finally:
        lock.release()


def banner(emulator: DiscordEmulator, settings: Settings, interactive: bool,
           log_file: Path) -> str:
    target = settings.targets[0]
    how = ("Type `help` for commands; try `/remi-health`, then `kill` or `freeze`, and watch\n"
           "Bubabot heal it. `quit` (or Ctrl-D) stops everything, the simulator included."
           if interactive else "No console (--no-console): Ctrl-C stops everything.")
    return f"""\
Bubabot local mode: nothing here talks to the real Discord.
  • an emulated Discord at {emulator.base_url}: guild "Remi HQ", #quick-tasks, #general,
    roles Ops / Viewer / On-call; you are "you" (Ops, On-call)
  • Bubabot, a real discord.py bot, connected to it
  • the Remi simulator (NOT Remi), started and supervised by Bubabot, connected as "Remi (sim)"
    in {target.workdir} (its bot.log, bot_error.log, .bot_health, .bot_alert)
  • Bubabot's state in {settings.state_dir}, its log in {log_file}
This terminal shows #quick-tasks (the emulated Discord starts empty each run: alerts still
open from an earlier run are posted again).
{how}
"""


async def run_local(*, state_dir: Path | None, interactive: bool, config: str | None = None,
                    stdin: TextIO | AsyncIterable[str] | None = None,
                    stdout: TextIO | None = None, stop: asyncio.Event | None = None,
                    log: LogOptions | None = None) -> None:
    """Run local mode until EOF/``quit`` (interactive), SIGINT/SIGTERM, or ``stop``.

    Bubabot's log goes to ``log.file`` (default ``bubabot.log`` in the state dir), rotated
    and formatted as ``log`` says; the terminal keeps #quick-tasks.

    ``config`` is not used: local mode always supervises the bundled simulator (a real
    Remi needs a real Discord, hence ``DISCORD_TOKEN``); it is only mentioned.
    ``stdin`` may be a text stream or any async iterable of lines (tests type through one).
    """
    out = stdout or sys.stdout
    stop = stop or asyncio.Event()
    if config:
        print(f"» local mode ignores --config {config}: it supervises the Remi simulator. "
              "Set DISCORD_TOKEN to run against Discord with that file.", file=out, flush=True)
    emulator = DiscordEmulator(heartbeat_interval_ms=HEARTBEAT_MS, enforce_heartbeats=True,
                               ack_deadline_s=3.0)
    await emulator.start()
    patch_discord_py(emulator)
    try:
        world = build_world(emulator)
        settings = settings_for(state_dir, emulator, world)
        log = log or LogOptions()
        log_file = log.file or settings.state_dir / LOG_NAME
        with logs_to_file(log_file, log):
            for pid in await asyncio.to_thread(clear_leftovers, settings):
                print(f"» stopped a simulator left over from an earlier run (pid {pid})",
                      file=out, flush=True)
            await _run_app(emulator, world, settings, interactive, stdin, out, stop,
                           log_file)
    finally:
        await emulator.stop()
        unpatch_discord_py()


async def _run_app(emulator: DiscordEmulator, world: World, settings: Settings,  # noqa: PLR0917 - wiring
                   interactive: bool, stdin: TextIO | AsyncIterable[str] | None, out: TextIO,
                   stop: asyncio.Event, log_file: Path) -> None:
    ready = asyncio.Event()

    async def on_ready(_bot: Bubabot) -> None:
        ready.set()

    app = build_app(settings, console=None, client_options={"guild_ready_timeout": 0.05},
                    on_ready=on_ready)
    console = Console(emulator, world.seat, LocalSimulator(app), out, quit=stop)
    out.write(banner(emulator, settings, interactive, log_file))
    out.flush()
    try:
        await app.start(world.bubabot_token)
        with _stop_signals(stop):
            await _serve(console, emulator, world, ready, interactive, stdin)
    finally:
        console.say("shutting down: Bubabot, the Remi simulator, the emulated Discord")
        owns_simulator = bool(app.watcher.locks)  # not when another watcher holds them
        await app.close()
        if owns_simulator:
            stopped = await asyncio.to_thread(stop_simulators, settings.targets[0],
                                              settings.state_dir)
            console.say(f"stopped the Remi simulator (pid {', '.join(map(str, stopped))})"
                        if stopped else "the Remi simulator was not running")


async def _serve(console: Console, emulator: DiscordEmulator, world: World,  # noqa: PLR0917 - wiring
                 ready: asyncio.Event, interactive: bool,
                 stdin: TextIO | AsyncIterable[str] | None) -> None:
    """Print from the start; take commands once both bots are in (typed-ahead lines wait)."""
    stop = console.quit
    tasks = [asyncio.create_task(console.print_forever(stop), name="console printer")]
    try:
        await _wait_ready(console, emulator, world, ready)
        if interactive and not stop.is_set():
            lines = stdin if isinstance(stdin, AsyncIterable) else stdin_lines(stdin)
            tasks.append(asyncio.create_task(console.read_commands(lines), name="console"))
            console.say("ready: type `help` for commands")
        await stop.wait()
    finally:
        stop.set()  # the printer takes one last look and ends; the reader is cancelled
        for task in tasks[1:]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _wait_ready(console: Console, emulator: DiscordEmulator, world: World,
                      ready: asyncio.Event) -> None:
    def both_in() -> bool:
        return (ready.is_set() and emulator.is_connected(bot_token=world.remi_token)) \
            or console.quit.is_set()

    try:
        await emulator.wait_for(both_in, READY_WAIT_S, "Bubabot and the simulator online")
    except TimeoutError:
        missing = "Bubabot" if not ready.is_set() else "the Remi simulator"
        console.say(f"{missing} is not connected after {READY_WAIT_S:g} s; carrying on "
                    "(`status` shows what runs)")


class _Noise(logging.Filter):
    """discord.py's voice warnings on every start say nothing about Bubabot or Remi."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "voice will NOT be supported" not in record.getMessage()


@contextlib.contextmanager
def logs_to_file(path: Path, options: LogOptions) -> Iterator[None]:
    """INFO and up to ``path`` (rotated by size, text or JSON as ``options`` say); the
    terminal keeps only warnings, so #quick-tasks reads well.

    Only the terminal handlers ``bubabot``'s ``main`` installed are quietened (and only
    when not ``--verbose``); everything is restored afterwards.
    """
    root = logging.getLogger()
    handler = rotating_file_handler(path, options)
    handler.setLevel(options.level)
    quietened: list[tuple[logging.Handler, int]] = []
    noise = _Noise()
    for existing in root.handlers:
        if isinstance(existing, logging.StreamHandler) \
                and getattr(existing, "stream", None) in (sys.stderr, sys.stdout):
            existing.addFilter(noise)
            if root.level > logging.DEBUG:
                quietened.append((existing, existing.level))
                existing.setLevel(max(existing.level, logging.WARNING))
    root.addHandler(handler)
    old_root_level = root.level
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    try:
        yield
    finally:
        root.setLevel(old_root_level)
        root.removeHandler(handler)
        handler.close()
        for existing, level in quietened:
            existing.setLevel(level)
        for existing in root.handlers:
            existing.removeFilter(noise)


@contextlib.contextmanager
def _stop_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop``; a second Ctrl-C during shutdown is a plain interrupt."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)

