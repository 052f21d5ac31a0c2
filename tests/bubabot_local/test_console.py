"""The local console without a bot: parsing typed lines, rendering messages, the printer.

The printer tests use a real (unstarted) emulator as the message store; nothing connects.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from bubabot_local.console import Console, Seat, send_control
from bubabot_local.console_input import stdin_lines
from bubabot_local.console_text import (
    Click,
    Meta,
    Names,
    ParseError,
    SimCommand,
    Slash,
    parse_line,
    pick_button,
    render_embed,
    render_message,
)
from bubabot_local.emulator import DiscordEmulator, Message
from bubabot_local.emulator_world import User

GUILD, CHANNEL, YOU, BOT, ROLE = 11, 12, 13, 14, 15
EMBED = {"title": "🟢 remi: healthy", "description": "All checks pass.",
         "fields": [{"name": "Process", "value": "pid 42 · up 5s\nCPU 1%"},
                    {"name": "Gateway", "value": "connected"}],
         "footer": {"text": "remi:health · id 1"}}
BUTTONS = [{"type": 1, "components": [
    {"type": 2, "style": 1, "label": "Acknowledge", "custom_id": "bubabot:ack:1"},
    {"type": 2, "style": 4, "label": "Restart", "custom_id": "bubabot:restart:1"},
    {"type": 2, "style": 2, "label": "Show errors", "custom_id": "bubabot:errors:1",
     "disabled": True}]}]
NAMES = Names(users={YOU: "you"}, roles={ROLE: "On-call"}, channels={CHANNEL: "quick-tasks"})


def message(**fields: Any) -> Message:
    return Message(id=99, channel_id=CHANNEL, guild_id=GUILD, author=User(BOT, "Bubabot", True),
                   **fields)


# --------------------------------------------------------------------------- parsing


def test_slash_command_with_quoted_option() -> None:
    parsed = parse_line('/remi-silence duration:1h reason:"noisy deploy"')
    assert parsed == Slash("remi-silence", {"duration": "1h", "reason": "noisy deploy"})


def test_slash_command_without_options_and_values_with_colons() -> None:
    assert parse_line("/remi-health") == Slash("remi-health", {})
    assert parse_line("/scan url:https://soundcloud.com/a/b") == \
        Slash("scan", {"url": "https://soundcloud.com/a/b"})


@pytest.mark.parametrize(("line", "hint"), [
    ("/remi-silence 1h", "name:value"),
    ('/remi-silence reason:"never closed', "close your quotes"),
    ("reboot", "unknown command 'reboot'"),
    ("/", "command name"),
    ("scan maybe", "scan pass|fail|hang"),
    ("hang forever", "hang [seconds]"),
    ("wait", "wait <seconds>"),
    ("kill 9", "takes no arguments"),
    ("click", "click <msg#>"),
])
def test_bad_lines_give_a_one_line_hint(line: str, hint: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_line(line)
    assert hint in str(caught.value)
    assert "\n" not in str(caught.value)


def test_clicks_simulator_and_meta_commands() -> None:
    assert parse_line("click 4 2") == Click(4, "2")
    assert parse_line("click #4 show errors") == Click(4, "show errors")
    assert parse_line("click restart") == Click(None, "restart")
    assert parse_line("KILL") == SimCommand("kill")
    assert parse_line("hang 30") == SimCommand("hang", seconds=30.0)
    assert parse_line("hang") == SimCommand("hang")
    assert parse_line("scan FAIL") == SimCommand("scan", mode="fail")
    assert parse_line("wait 2.5") == Meta("wait", 2.5)
    assert parse_line("exit") == Meta("quit")
    assert parse_line("   ") is None
    assert parse_line("# a comment") is None


# --------------------------------------------------------------------------- rendering


def test_embed_reads_as_text() -> None:
    assert render_embed(EMBED, NAMES) == [
        "▌ 🟢 remi: healthy", "All checks pass.", "• Process: pid 42 · up 5s", "    CPU 1%",
        "• Gateway: connected", "— remi:health · id 1"]


def test_message_shows_number_tags_mentions_buttons_and_files() -> None:
    msg = message(content=f"<@&{ROLE}> **remi** is down, see <#{CHANNEL}>; scan\\_test",
                  embeds=[EMBED], components=BUTTONS, flags=64)
    text = render_message(7, msg, NAMES, edited=True, reply_to="/remi-health")
    head, *body = text.splitlines()
    assert head.startswith("── #7 Bubabot · ")
    assert "(edited, answers your /remi-health, only you can see this)" in head
    assert body[0] == "  @On-call remi is down, see #quick-tasks; scan_test"
    assert "  ▌ 🟢 remi: healthy" in body
    assert body[-1] == ("  buttons: [1] Acknowledge  [2] Restart  [3] Show errors (disabled)"
                        "   → click 7 <n>")


def test_buttons_are_picked_by_number_or_label() -> None:
    msg = message(components=BUTTONS)
    assert pick_button(msg, "2")["custom_id"] == "bubabot:restart:1"
    assert pick_button(msg, "ack")["custom_id"] == "bubabot:ack:1"
    assert pick_button(msg, "errors")["custom_id"] == "bubabot:errors:1"  # a word inside
    for bad in ("4", "zzz"):
        with pytest.raises(ParseError):
            pick_button(msg, bad)
    with pytest.raises(ParseError, match="no buttons"):
        pick_button(message(), "1")


# --------------------------------------------------------------------------- the console


class FakeSim:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def pid(self) -> int | None:
        return None

    def status_lines(self) -> list[str]:
        return ["Remi simulator: no process"]


@pytest.fixture
def console(tmp_path: Path) -> Console:
    emulator = DiscordEmulator()  # never started: only its message store is used
    emulator.add_guild(GUILD)
    emulator.add_channel(GUILD, CHANNEL, "quick-tasks")
    emulator.add_member(GUILD, YOU, "you")
    emulator.add_bot("token", BOT, "Bubabot")
    return Console(emulator, Seat(GUILD, CHANNEL, YOU, ("token",), NAMES), FakeSim(tmp_path),
                   io.StringIO())


def output(console: Console) -> str:
    assert isinstance(console.out, io.StringIO)
    return console.out.getvalue()


def test_printer_shows_new_messages_once_and_edits_as_rerenders(console: Console) -> None:
    posted = console.emulator.add_message(CHANNEL, BOT, "Remi restarted")
    console.poll_once()
    console.poll_once()
    assert output(console).count("Remi restarted") == 1
    posted.remember_revision()
    posted.content = "Remi restarted (resolved)"
    console.poll_once()
    first, second = output(console).split("── #1 Bubabot")[1:]
    assert "(edited)" not in first
    assert "(edited)" in second
    assert "Remi restarted (resolved)" in second


async def lines(*typed: str) -> AsyncIterator[str]:
    for line in typed:
        yield line


async def test_bad_input_is_a_hint_and_eof_quits(console: Console) -> None:
    await console.read_commands(lines("reboot", "/remi-health", "click 3 1", "status"))
    text = output(console)
    assert "» unknown command 'reboot'; type `help`" in text
    assert "» no /remi-health: no bot has synced its commands yet" in text
    assert "» no message #3" in text
    assert "» Remi simulator: no process" in text
    assert "Traceback" not in text
    assert console.quit.is_set()


async def test_simulator_commands_go_to_the_control_file(console: Console,
                                                         tmp_path: Path) -> None:
    await console.read_commands(lines("scan fail", "hang 5", "kill", "quit", "crash"))
    control = (tmp_path / ".remi_sim_control").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in control] == [
        {"do": "scan_mode", "mode": "fail"}, {"do": "hang", "seconds": 5.0}]
    assert "the simulator is not running right now" in output(console)


def test_control_file_keeps_unread_commands(tmp_path: Path) -> None:
    send_control(tmp_path, {"do": "error"})
    send_control(tmp_path, {"do": "crash"})
    text = (tmp_path / ".remi_sim_control").read_text(encoding="utf-8")
    assert text == '{"do": "error"}\n{"do": "crash"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == [".remi_sim_control"]


async def test_stdin_lines_from_a_pipe_and_from_a_text_stream() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, "/remi-ack ref:café\r\nkill\nno newline".encode())
    os.close(write_fd)
    with os.fdopen(read_fd, encoding="utf-8") as pipe:
        got = [line async for line in stdin_lines(pipe)]
    assert got == ["/remi-ack ref:café", "kill", "no newline"]
    stream = io.StringIO("status\nquit\n")
    assert [line async for line in stdin_lines(stream)] == ["status", "quit"]


async def test_wait_ends_early_on_quit(console: Console) -> None:
    console.quit.set()
    await asyncio.wait_for(console.execute(Meta("wait", 30)), 1)


def test_an_edited_alert_does_not_print_its_stack_again_and_replies_say_to_what(
        console: Console) -> None:
    """A hang alert is posted, edited into resolved, and replied to: the stack is printed
    once, the edit names the field instead, and the reply points at the alert."""
    stack = 'File "remi/soundcloud.py", line 41, in fetch_track\n    time.sleep(850)'
    alert = console.emulator.add_message(CHANNEL, BOT, "", embeds=[{
        "title": "🚨 remi: hang", "fields": [{"name": "Evidence: hang", "value": stack}]}])
    console.poll_once()
    alert.remember_revision()
    alert.embeds = [{"title": "✅ remi: resolved",
                     "fields": [{"name": "Evidence: hang", "value": stack}]}]
    report = console.emulator.add_message(CHANNEL, BOT, "restarted (hang)")
    report.reference_id = alert.id
    console.poll_once()
    text = output(console)
    assert text.count("in fetch_track") == 1
    assert "• Evidence: hang: (unchanged, above)" in text
    assert "✅ remi: resolved" in text
    assert "(reply to #1)" in text
