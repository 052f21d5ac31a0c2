"""The terminal face of local mode: #quick-tasks as it fills, and a prompt that drives it.

A person at the terminal is "you", an operator of the emulated guild. The printer polls the
emulator (every 0.3 s, on the loop: reading its in-memory state is cheap) and shows new
messages and edits, ephemeral answers to you included, numbered so buttons can be clicked.
The reader turns typed lines into slash commands, clicks, or faults for the simulator.

Nothing here blocks the event loop: typed lines come from ``console_input`` (a reader
thread), the control file is written and psutil is asked in worker threads, and signals
are single syscalls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

from bubabot_local.console_text import (
    HELP,
    Click,
    Command,
    Names,
    ParseError,
    SimCommand,
    Slash,
    buttons_of,
    field_key,
    parse_line,
    pick_button,
    render_message,
    signature,
)
from bubabot_local.emulator import (
    DiscordEmulator,
    EmulatorError,
    EmulatorTimeout,
    Interaction,
    Message,
)

log = logging.getLogger(__name__)
POLL_S = 0.3
ANSWER_WAIT_S = 10.0
CONTROL_FILE = ".remi_sim_control"  # bubabot_local.remi_sim.CONTROL_FILE (no discord import)
SIGNALS = {"kill": (signal.SIGKILL, "SIGKILL"), "freeze": (signal.SIGSTOP, "SIGSTOP"),
           "thaw": (signal.SIGCONT, "SIGCONT")}


class Simulator(Protocol):
    """What the console needs to know about the running simulator (local mode provides it)."""

    @property
    def workdir(self) -> Path: ...

    def pid(self) -> int | None: ...

    def status_lines(self) -> list[str]: ...


@dataclass(frozen=True)
class Seat:
    """Where the person sits: guild, channel, their member id, and the bots' tokens."""

    guild_id: int
    channel_id: int
    user_id: int
    bot_tokens: tuple[str, ...]
    names: Names = field(default_factory=Names)


@dataclass
class Console:
    """Printer and command reader over one emulator and one simulator."""

    emulator: DiscordEmulator
    seat: Seat
    simulator: Simulator
    out: TextIO
    quit: asyncio.Event = field(default_factory=asyncio.Event)
    _numbers: dict[int, int] = field(default_factory=dict)
    _shown: dict[int, str] = field(default_factory=dict)
    _by_number: dict[int, int] = field(default_factory=dict)
    _asked: dict[str, str] = field(default_factory=dict)  # interaction id → "/remi-health"
    _fields: dict[int, set[str]] = field(default_factory=dict)  # message id → fields printed

    def say(self, text: str) -> None:
        """A line from the console itself (not from Discord), marked so it stands apart."""
        self.out.write("".join(f"» {line}\n" for line in text.splitlines()))
        self.out.flush()

    # ------------------------------------------------------------------ printer

    def poll_once(self) -> None:
        """Print messages that are new or changed since the last look."""
        for message in self.emulator.messages(self.seat.channel_id, include_ephemeral=True):
            if message.loading:
                continue  # "Bubabot is thinking…": shown once it is filled in
            seen = signature(message)
            previous = self._shown.get(message.id)
            if previous == seen:
                continue
            self._shown[message.id] = seen
            number = self._numbers.get(message.id)
            if number is None:
                number = self._numbers[message.id] = len(self._numbers) + 1
                self._by_number[number] = message.id
            printed = self._fields.setdefault(message.id, set())
            self.out.write(render_message(
                number, message, self.seat.names, edited=previous is not None,
                reply_to=self._asked_for(message),
                replies_to=self._numbers.get(message.reference_id or 0),
                shown=printed) + "\n")
            printed.update(field_key(item) for embed in message.embeds
                           for item in embed.get("fields", []))
        self.out.flush()

    def _asked_for(self, message: Message) -> str:
        """What the person typed or clicked that this message answers ("" if nothing)."""
        return self._asked.get(str((message.interaction_metadata or {}).get("id")), "")

    async def print_forever(self, stop: asyncio.Event) -> None:
        """Poll until ``stop``; one last look so nothing posted before it is lost."""
        while not stop.is_set():
            self.poll_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_S)
        self.poll_once()

    # ------------------------------------------------------------------ commands

    async def read_commands(self, lines: AsyncIterable[str]) -> None:
        """Run typed lines one after another until EOF or ``quit``."""
        async for line in lines:
            try:
                command = parse_line(line)
                if command is not None:
                    await self.execute(command)
            except ParseError as exc:
                self.say(f"{exc}")
            except EmulatorError as exc:
                self.say(f"Discord said no: {exc}")
            except Exception as exc:  # a bug must not end the console; details in the log
                log.exception("console command %r failed", line)
                self.say(f"that failed: {type(exc).__name__}: {exc} (details in the log)")
            if self.quit.is_set():
                return
        self.say("end of input (Ctrl-D or stdin closed): shutting down; "
                 "`--no-console` keeps local mode running without a terminal")
        self.quit.set()

    async def execute(self, command: Command) -> None:
        """Carry out one parsed command."""
        if isinstance(command, Slash):
            await self.slash(command)
        elif isinstance(command, Click):
            await self.click(command)
        elif isinstance(command, SimCommand):
            await self.sim(command)
        elif command.name == "wait":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.quit.wait(), command.seconds)
        elif command.name == "help":
            self.say(HELP)
        elif command.name == "status":
            await self.status()
        else:
            self.quit.set()

    async def slash(self, command: Slash) -> None:
        token = self._owner_of(command.name)
        interaction = await self.emulator.invoke_slash(
            guild_id=self.seat.guild_id, channel_id=self.seat.channel_id,
            user_id=self.seat.user_id, name=command.name, options=command.options,
            bot_token=token)
        await self._answer(interaction, f"/{command.name}")

    def _owner_of(self, name: str) -> str:
        """The bot that synced ``/name`` (Bubabot's commands, or the simulator's /scan)."""
        known: list[str] = []
        for token in self.seat.bot_tokens:
            app_id = self.emulator.bot(bot_token=token).application_id
            names = [c["name"] for c in self.emulator.synced_commands(app_id,
                                                                      self.seat.guild_id)]
            if name in names:
                return token
            known += names
        if not known:
            raise ParseError(f"no /{name}: no bot has synced its commands yet")
        raise ParseError(f"no /{name} here; try " + ", ".join(f"/{n}" for n in sorted(known)))

    async def click(self, command: Click) -> None:
        message = self._message_for(command.message)
        button = pick_button(message, command.button)
        if button.get("disabled"):
            raise ParseError(f"{button.get('label')} is disabled")
        interaction = await self.emulator.click_button(
            user_id=self.seat.user_id, message_id=message.id,
            custom_id=str(button["custom_id"]))
        await self._answer(interaction, f"[{button.get('label')}]")

    def _message_for(self, number: int | None) -> Message:
        if number is None:
            for shown in sorted(self._by_number, reverse=True):
                message = self._live(self._by_number[shown])
                if message is not None and buttons_of(message):
                    return message
            raise ParseError("no message with buttons yet")
        message_id = self._by_number.get(number)
        message = None if message_id is None else self._live(message_id)
        if message is None:
            raise ParseError(f"no message #{number} (see the numbers after ──)")
        return message

    def _live(self, message_id: int) -> Message | None:
        with contextlib.suppress(EmulatorError):
            return self.emulator.message(message_id)
        return None

    async def _answer(self, interaction: Interaction, what: str) -> None:
        """Wait a while for the answer, show it; a slow one shows up when it comes."""
        self._asked[str(interaction.id)] = what
        try:
            await self.emulator.wait_for_response(interaction, timeout=ANSWER_WAIT_S)
        except EmulatorTimeout:
            self.say(f"{what}: no answer within {ANSWER_WAIT_S:g} s; it will show up here "
                     "if it comes")
        self.poll_once()

    # ------------------------------------------------------------------ the simulator

    async def sim(self, command: SimCommand) -> None:
        if command.action in SIGNALS:
            self.signal(command.action)
            return
        if command.action == "scan":
            order: dict[str, object] = {"do": "scan_mode", "mode": command.mode}
        elif command.action == "hang":
            order = {"do": "hang"} | ({} if command.seconds is None
                                      else {"seconds": command.seconds})
        else:
            order = {"do": command.action}
        await asyncio.to_thread(send_control, self.simulator.workdir, order)
        self.say(f"told the simulator: {json.dumps(order)} (it obeys within 0.2 s unless "
                 "frozen or hung)")

    def signal(self, action: str) -> None:
        sig, name = SIGNALS[action]
        pid = self.simulator.pid()
        if pid is None:
            self.say("the simulator is not running right now (Bubabot may be restarting it)")
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            self.say(f"pid {pid} is already gone")
            return
        self.say(f"sent {name} to the Remi simulator (pid {pid})")

    async def status(self) -> None:
        """Who is on the gateway, and what the engine knows (psutil: off the loop)."""
        bots = [f"{self.emulator.bot(bot_token=t).user.name}: "
                + ("connected" if self.emulator.is_connected(bot_token=t) else "NOT connected")
                for t in self.seat.bot_tokens]
        self.say("gateway — " + "; ".join(bots))
        self.say("\n".join(await asyncio.to_thread(self.simulator.status_lines)))


def send_control(workdir: Path, order: dict[str, object]) -> None:
    """Append one command to the simulator's control file, atomically.

    The simulator claims the file by renaming it, so claim it first too: whatever was
    unread is carried over once, never run twice.
    """
    path = workdir / CONTROL_FILE
    claimed = path.with_name(f"{path.name}.console.{os.getpid()}")
    pending = ""
    with contextlib.suppress(FileNotFoundError):
        path.replace(claimed)
        pending = claimed.read_text(encoding="utf-8")
        claimed.unlink()
    temp = path.with_name(f".{path.name}.console.tmp")
    temp.write_text(pending + json.dumps(order) + "\n", encoding="utf-8")
    temp.replace(path)
