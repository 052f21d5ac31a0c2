"""Discord's message limits, checked the way the real API rejects a body (400, code 50035).

Without these checks a renderer that overflows an embed would pass every local test and fail
on the first real alert. Pure functions over the JSON body discord.py sends.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_MAX = 256
ROWS_MAX = 5
ROW_ITEMS_MAX = 5
CUSTOM_ID_MAX = 100
LABEL_MAX = 80
COMMANDS_MAX = 100
OPTIONS_MAX = 25
DESCRIPTION_OPTION_MAX = 100
_COMMAND_NAME = re.compile(r"[-_\w]{1,32}")  # lowercase is checked separately

Problem = tuple[str, str]  # (path like "embeds.0.description", message)


def _too_long(path: str, value: Any, limit: int) -> list[Problem]:
    if isinstance(value, str) and len(value) > limit:
        return [(path, f"Must be {limit} or fewer in length.")]
    return []


def _embed_text_length(embed: Mapping[str, Any]) -> int:
    """Characters Discord counts toward the 6000 total of one embed."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for item in embed.get("fields") or []:
        total += len(item.get("name") or "") + len(item.get("value") or "")
    return total


def embed_problems(embeds: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """Per-embed limits and the 6000-character total across all embeds of a message."""
    problems: list[Problem] = []
    if len(embeds) > EMBEDS_MAX:
        problems.append(("embeds", f"Must be {EMBEDS_MAX} or fewer in length."))
    for index, embed in enumerate(embeds):
        path = f"embeds.{index}"
        problems += _too_long(f"{path}.title", embed.get("title"), TITLE_MAX)
        problems += _too_long(f"{path}.description", embed.get("description"), DESCRIPTION_MAX)
        problems += _too_long(
            f"{path}.footer.text", (embed.get("footer") or {}).get("text"), FOOTER_MAX
        )
        problems += _too_long(
            f"{path}.author.name", (embed.get("author") or {}).get("name"), AUTHOR_MAX
        )
        fields = embed.get("fields") or []
        if len(fields) > FIELDS_MAX:
            problems.append((f"{path}.fields", f"Must be {FIELDS_MAX} or fewer in length."))
        for number, item in enumerate(fields):
            field_path = f"{path}.fields.{number}"
            for key, limit in (("name", FIELD_NAME_MAX), ("value", FIELD_VALUE_MAX)):
                text = item.get(key)
                if not text:
                    problems.append((f"{field_path}.{key}", "This field is required"))
                problems += _too_long(f"{field_path}.{key}", text, limit)
    if sum(_embed_text_length(embed) for embed in embeds) > EMBED_TOTAL_MAX:
        problems.append(("embeds", f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}"))
    return problems


def component_problems(rows: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """Rows of buttons/selects: counts, custom_id length and uniqueness, label length."""
    problems: list[Problem] = []
    if len(rows) > ROWS_MAX:
        problems.append(("components", f"Must be {ROWS_MAX} or fewer in length."))
    seen: set[str] = set()
    for row_index, row in enumerate(rows):
        items = row.get("components") or []
        if len(items) > ROW_ITEMS_MAX:
            problems.append(
                (f"components.{row_index}.components", f"Must be {ROW_ITEMS_MAX} or fewer.")
            )
        for item_index, item in enumerate(items):
            path = f"components.{row_index}.components.{item_index}"
            problems += _too_long(f"{path}.label", item.get("label"), LABEL_MAX)
            custom_id = item.get("custom_id")
            if custom_id is None:
                if item.get("type") == 2 and item.get("style") not in (5, 6):
                    problems.append((f"{path}.custom_id", "A custom id is required"))
                continue
            if not 1 <= len(str(custom_id)) <= CUSTOM_ID_MAX:
                problems.append((f"{path}.custom_id", f"Must be 1-{CUSTOM_ID_MAX} in length."))
            if custom_id in seen:
                problems.append((f"{path}.custom_id", "Component custom id cannot be duplicated"))
            seen.add(str(custom_id))
    return problems


def message_problems(fields: Mapping[str, Any]) -> list[Problem]:
    """Every limit a create or edit body breaks; empty when Discord would accept it."""
    problems = _too_long("content", fields.get("content"), CONTENT_MAX)
    problems += embed_problems(fields.get("embeds") or [])
    problems += component_problems(fields.get("components") or [])
    return problems


def command_problems(commands: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """Names, descriptions and option rules Discord enforces on a bulk command overwrite."""
    problems: list[Problem] = []
    seen: set[tuple[str, int]] = set()
    for index, command in enumerate(commands):
        kind = int(command.get("type", 1))
        name = str(command.get("name", ""))
        if (name, kind) in seen:
            problems.append((f"{index}.name", "Application command names must be unique"))
        seen.add((name, kind))
        if kind == 1:
            problems += _named_problems(str(index), command)
            problems += _option_problems(f"{index}.options", command.get("options") or [])
    if sum(1 for c in commands if int(c.get("type", 1)) == 1) > COMMANDS_MAX:
        problems.append(("_", f"Must be {COMMANDS_MAX} or fewer chat input commands."))
    return problems


def _named_problems(path: str, item: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    name = str(item.get("name", ""))
    if not _COMMAND_NAME.fullmatch(name) or name != name.lower():
        problems.append((f"{path}.name", "Command name is invalid"))
    description = str(item.get("description", ""))
    if not 1 <= len(description) <= DESCRIPTION_OPTION_MAX:
        problems.append((f"{path}.description", "Must be between 1 and 100 in length."))
    return problems


def _option_problems(path: str, options: Sequence[Mapping[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    if len(options) > OPTIONS_MAX:
        problems.append((path, f"Must be {OPTIONS_MAX} or fewer in length."))
    names = [str(option.get("name", "")) for option in options]
    if len(set(names)) != len(names):
        problems.append((path, "Option names must be unique"))
    optional_seen = False
    for index, option in enumerate(options):
        option_path = f"{path}.{index}"
        problems += _named_problems(option_path, option)
        if option.get("type") in (1, 2):
            problems += _option_problems(f"{option_path}.options", option.get("options") or [])
            continue
        if option.get("required") and optional_seen:
            problems.append((option_path, "Required options must be placed before optional"))
        optional_seen = optional_seen or not option.get("required")
        if len(option.get("choices") or []) > OPTIONS_MAX:
            problems.append((f"{option_path}.choices", "Must be 25 or fewer in length."))
    return problems


def error_body(problems: Sequence[Problem]) -> dict[str, Any]:
    """The 50035 "Invalid Form Body" JSON that discord.py flattens into its error text."""
    errors: dict[str, Any] = {}
    for path, message in problems:
        entry = errors.setdefault(path, {"_errors": []})
        entry["_errors"].append({"code": "BASE_TYPE_INVALID", "message": message})
    return {"code": 50035, "message": "Invalid Form Body", "errors": errors}
