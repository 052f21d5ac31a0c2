"""The local console's words: what a typed line means, and how a Discord message reads.

Pure functions, so the parsing and the rendering are tested without a terminal, an
emulator or a bot. ``bubabot_local.console`` does the I/O around them.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bubabot_local.emulator_messages import Message

JSON = dict[str, Any]
#: console commands that drive the simulator (see ``HELP``)
SIM_COMMANDS = ("kill", "freeze", "thaw", "hang", "crash", "error", "scan")
META_COMMANDS = ("help", "status", "quit", "exit", "wait")
SCAN_MODES = ("pass", "fail", "hang")
MAX_WAIT_S = 600.0

HELP = """\
Commands (you are "you", an operator, typing in #quick-tasks):
  /remi-health [target:remi]        any slash command; options as name:value,
  /remi-silence duration:1h reason:"noisy deploy"   quote values with spaces
  /scan url:https://soundcloud.com/…  Remi's own command goes to the simulator
  click <msg#> <button# or label>   press a button, e.g. `click 4 2` or `click 4 restart`
  click <button# or label>          …on the newest message that has buttons
Make the Remi simulator misbehave (it is NOT Remi):
  kill                SIGKILL the simulator: a crash Bubabot must notice and heal
  freeze / thaw       SIGSTOP / SIGCONT: a process that is there but does nothing
  hang [seconds]      block its event loop (the 2026-01-24 incident; default 1 h)
  crash / error       an unhandled exception / log the incident's NameError traceback
  scan pass|fail|hang how the out-of-band /scan smoke test will behave
Other: status, wait <seconds>, help, quit (or Ctrl-D)"""

_OPTION_NAME = re.compile(r"^[a-z0-9_-]{1,32}$")
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_CHANNEL_MENTION = re.compile(r"<#(\d+)>")
_TIMESTAMP = re.compile(r"<t:(-?\d+)(?::[tTdDfFR])?>")
_MARKDOWN_ESCAPE = re.compile(r"\\([\\_*~`|>#-])")
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_RULE_WIDTH = 72


class ParseError(ValueError):
    """A line the console cannot run; the message is a one-line hint for the person."""


@dataclass(frozen=True)
class Slash:
    """``/name opt:value …``: a slash command as the operator."""

    name: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Click:
    """``click [msg#] <button# or label>``; ``message`` None means the newest with buttons."""

    message: int | None
    button: str


@dataclass(frozen=True)
class SimCommand:
    """Something done to the simulator: a signal or a control-file command."""

    action: str
    seconds: float | None = None
    mode: str | None = None


@dataclass(frozen=True)
class Meta:
    """A console-only command: help, status, quit, wait."""

    name: str
    seconds: float = 0.0


Command = Slash | Click | SimCommand | Meta


def parse_line(line: str) -> Command | None:
    """One typed line → a command; None for a blank line or a ``#`` comment."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ParseError(f"cannot read that line ({exc}); close your quotes") from None
    head, rest = words[0], words[1:]
    if head.startswith("/"):
        return _slash(head, rest)
    word = head.lower()
    if word == "click":
        return _click(rest)
    if word in SIM_COMMANDS:
        return _sim(word, rest)
    if word in META_COMMANDS:
        return _meta(word, rest)
    raise ParseError(f"unknown command {head!r}; type `help` (slash commands start with /)")


def _slash(head: str, rest: list[str]) -> Slash:
    name = head[1:].lower()
    if not name:
        raise ParseError("type a command name after the slash, e.g. /remi-health")
    options: dict[str, str] = {}
    for word in rest:
        key, colon, value = word.partition(":")
        if not colon or not _OPTION_NAME.match(key.lower()):
            raise ParseError(f"options look like name:value (got {word!r}); "
                             'quote values with spaces: reason:"noisy deploy"')
        options[key.lower()] = value
    return Slash(name, options)


def _click(rest: list[str]) -> Click:
    if not rest:
        raise ParseError("click <msg#> <button# or label>, e.g. `click 4 2` or `click 4 restart`")
    if len(rest) >= 2 and rest[0].lstrip("#").isdigit():
        return Click(int(rest[0].lstrip("#")), " ".join(rest[1:]))
    return Click(None, " ".join(rest))


def _sim(word: str, rest: list[str]) -> SimCommand:
    if word == "hang":
        return SimCommand("hang", seconds=_seconds(rest, "hang [seconds]")) if rest \
            else SimCommand("hang")
    if word == "scan":
        if len(rest) != 1 or rest[0].lower() not in SCAN_MODES:
            raise ParseError("scan pass|fail|hang — how the /scan smoke test will behave")
        return SimCommand("scan", mode=rest[0].lower())
    if rest:
        raise ParseError(f"`{word}` takes no arguments")
    return SimCommand(word)


def _meta(word: str, rest: list[str]) -> Meta:
    if word == "wait":
        return Meta("wait", _seconds(rest, "wait <seconds>"))
    return Meta("quit" if word == "exit" else word)


def _seconds(rest: list[str], usage: str) -> float:
    try:
        value = float(rest[0]) if len(rest) == 1 else -1.0
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_WAIT_S:
        raise ParseError(f"{usage}: a number of seconds between 0 and {MAX_WAIT_S:g}")
    return value


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Names:
    """Who and what ids are, so ``<@&123>`` reads as ``@On-call``."""

    users: Mapping[int, str] = field(default_factory=dict)
    roles: Mapping[int, str] = field(default_factory=dict)
    channels: Mapping[int, str] = field(default_factory=dict)

    def humanize(self, text: str) -> str:
        """Mentions and timestamps as a person in Discord would see them."""
        text = _USER_MENTION.sub(lambda m: "@" + self.users.get(int(m[1]), m[1]), text)
        text = _ROLE_MENTION.sub(lambda m: "@" + self.roles.get(int(m[1]), m[1]), text)
        text = _CHANNEL_MENTION.sub(lambda m: "#" + self.channels.get(int(m[1]), m[1]), text)
        text = _TIMESTAMP.sub(lambda m: _clock(int(m[1])), text)
        text = _BOLD.sub(lambda m: m[1] or m[2], text).replace("```", "")
        return _MARKDOWN_ESCAPE.sub(r"\1", text)


def _clock(epoch: int) -> str:
    return datetime.fromtimestamp(epoch).astimezone().strftime("%H:%M:%S")


def buttons_of(message: Message) -> list[JSON]:
    """The message's buttons in row order; a button's console number is its index + 1."""
    return [item for row in message.components for item in row.get("components", [])
            if item.get("type", 2) == 2]


def pick_button(message: Message, choice: str) -> JSON:
    """A button by its console number or by (the start of) its label, case-insensitively."""
    buttons = buttons_of(message)
    if not buttons:
        raise ParseError("that message has no buttons")
    if choice.isdigit():
        index = int(choice) - 1
        if not 0 <= index < len(buttons):
            raise ParseError(f"that message has buttons 1-{len(buttons)}")
        return buttons[index]
    wanted = choice.lower()
    labels_lower = [str(b.get("label", "")).lower() for b in buttons]
    matches = [b for b, label in zip(buttons, labels_lower, strict=True)
               if label.startswith(wanted)] or \
              [b for b, label in zip(buttons, labels_lower, strict=True) if wanted in label]
    if len(matches) != 1:
        labels = ", ".join(str(b.get("label", "?")) for b in buttons)
        raise ParseError(f"no single button matches {choice!r}; buttons: {labels}")
    return matches[0]


def field_key(item: Mapping[str, Any]) -> str:
    """A field as a person read it: the same name and value is the same field."""
    return f"{item.get('name', '')}\n{item.get('value', '')}"


def render_embed(embed: Mapping[str, Any], names: Names,
                 shown: Collection[str] = ()) -> list[str]:
    """An embed as indented lines: title, description, fields, footer.

    Fields in ``shown`` (``field_key``) were printed already for this message: an edit
    names them instead of printing a stack trace a second time.
    """
    lines: list[str] = []
    if embed.get("author", {}).get("name"):
        lines.append(names.humanize(str(embed["author"]["name"])))
    if embed.get("title"):
        lines.append(f"▌ {names.humanize(str(embed['title']))}")
    if embed.get("description"):
        lines.extend(names.humanize(str(embed["description"])).splitlines())
    for item in embed.get("fields", []):
        if field_key(item) in shown:
            lines.append(f"• {names.humanize(str(item.get('name', '')))}: (unchanged, above)")
            continue
        value = names.humanize(str(item.get("value", ""))).splitlines() or [""]
        lines.append(f"• {names.humanize(str(item.get('name', '')))}: {value[0]}")
        lines.extend(f"    {more}" for more in value[1:])
    if embed.get("footer", {}).get("text"):
        lines.append(f"— {names.humanize(str(embed['footer']['text']))}")
    return lines


def render_message(number: int, message: Message, names: Names, *,
                   edited: bool = False, reply_to: str = "", replies_to: int | None = None,
                   shown: Collection[str] = ()) -> str:
    """One message as a block of text, numbered so a person can `click` its buttons.

    ``reply_to`` names what the person did that this message answers (``/remi-health``);
    ``replies_to`` is the number of the message it is a Discord reply to (the incident a
    restart report threads onto); ``shown`` are fields already printed (see render_embed).
    """
    when = message.created_at.astimezone().strftime("%H:%M:%S")
    tags = [t for t, on in (("edited", edited), (f"answers your {reply_to}", bool(reply_to)),
                            (f"reply to #{replies_to}", replies_to is not None),
                            ("only you can see this", message.ephemeral)) if on]
    head = f"── #{number} {message.author.name} · {when}"
    if tags:
        head += f" ({', '.join(tags)})"
    lines = [head + " " + "─" * max(3, _RULE_WIDTH - len(head) - 1)]
    if message.content:
        lines.extend(f"  {line}" for line in names.humanize(message.content).splitlines())
    for embed in message.embeds:
        lines.extend(f"  {line}" for line in render_embed(embed, names, shown))
    for attachment in message.attachments:
        lines.append(f"  📎 {attachment.filename} ({_size(len(attachment.data))})")
    buttons = buttons_of(message)
    if buttons:
        labels = []
        for index, button in enumerate(buttons, start=1):
            label = f"[{index}] {button.get('label') or button.get('custom_id', '?')}"
            labels.append(label + (" (disabled)" if button.get("disabled") else ""))
        lines.append(f"  buttons: {'  '.join(labels)}   → click {number} <n>")
    return "\n".join(lines)


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB"


def signature(message: Message) -> str:
    """What a person sees of a message; a change means it was edited since shown."""
    return json.dumps([message.content, message.embeds, message.components,
                       [a.filename for a in message.attachments], message.flags],
                      sort_keys=True, default=str)
