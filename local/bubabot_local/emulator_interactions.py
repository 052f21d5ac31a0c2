"""Interactions: building what Discord sends a bot, and applying what the bot answers.

Slash commands are looked up among the commands the bot synced, so a test exercises the same
names, option types and ids the bot registered (pitfall 3: `data.guild_id` must be set for
guild commands). Callbacks follow Discord's rules: one acknowledgement per interaction, the
first follow-up after a thinking defer fills the placeholder, an ephemeral defer stays so.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from bubabot_local.emulator_limits import error_body, message_problems
from bubabot_local.emulator_messages import EPHEMERAL, LOADING, Interaction, Message
from bubabot_local.emulator_state import ApiError, EmulatorError, EmulatorState, UploadedFile
from bubabot_local.emulator_world import BOT_APP_PERMISSIONS, JSON, Channel, Guild, Member

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
SUBCOMMAND_TYPES = (1, 2)
SNOWFLAKE_OPTION_TYPES = (6, 7, 8, 9)
CHAT_INPUT_COMMAND_MESSAGE = 20
_TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on"})
_FALSE_WORDS = frozenset({"false", "no", "n", "0", "off"})


def check_limits(fields: Mapping[str, Any]) -> None:
    """Reject a body Discord would reject (400, code 50035)."""
    problems = message_problems(fields)
    if problems:
        raise ApiError(400, 50035, "Invalid Form Body", error_body(problems))


# --- building INTERACTION_CREATE ------------------------------------------------------------


def command_data(
    command: JSON,
    path: list[str],
    values: Mapping[str, object],
    guild: Guild,
    *,
    guild_scoped: bool,
    focused: str | None = None,
) -> JSON:
    """The `data` of a slash (or autocomplete) interaction for a synced command.

    `path` names the subcommand group/subcommand under the command; `values` maps option
    names to Python values (ids or objects with `.id` for users, roles and channels).
    """
    definitions: list[JSON] = command.get("options", [])
    chain: list[JSON] = []
    for part in path:
        sub = next(
            (o for o in definitions if o["name"] == part and o["type"] in SUBCOMMAND_TYPES), None
        )
        if sub is None:
            raise EmulatorError(f"/{command['name']} has no subcommand {part!r}")
        chain.append(sub)
        definitions = sub.get("options", [])
    if any(o["type"] in SUBCOMMAND_TYPES for o in definitions):
        names = sorted(o["name"] for o in definitions)
        raise EmulatorError(f"/{command['name']} needs a subcommand, one of {names}")

    resolved: JSON = {}
    options = _leaf_options(
        command["name"], definitions, values, guild, resolved=resolved, focused=focused
    )
    for sub in reversed(chain):
        options = [{"type": sub["type"], "name": sub["name"], "options": options}]
    data: JSON = {
        "id": command["id"],
        "name": command["name"],
        "type": command.get("type", 1),
        "options": options,
    }
    if guild_scoped:
        data["guild_id"] = str(guild.id)
    if resolved:
        data["resolved"] = resolved
    return data


def _leaf_options(
    command_name: str,
    definitions: list[JSON],
    values: Mapping[str, object],
    guild: Guild,
    *,
    resolved: JSON,
    focused: str | None,
) -> list[JSON]:
    known = {o["name"]: o for o in definitions}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise EmulatorError(f"/{command_name} has no option(s) {unknown}; it has {sorted(known)}")
    if focused is None:
        missing = [o["name"] for o in definitions if o.get("required") and o["name"] not in values]
        if missing:
            raise EmulatorError(f"/{command_name} needs the required option(s) {missing}")
    options: list[JSON] = []
    for name, value in values.items():
        definition = known[name]
        if name == focused:
            # Discord sends what the user has typed so far, unconverted.
            options.append(
                {"name": name, "type": definition["type"], "value": str(value), "focused": True}
            )
            continue
        converted = option_value(definition, value, guild, resolved)
        options.append({"name": name, "type": definition["type"], "value": converted})
    return options


def option_value(definition: JSON, value: object, guild: Guild, resolved: JSON) -> object:
    """Convert one option value to its wire form, adding `resolved` data for snowflakes."""
    kind = definition["type"]
    value = _choice_value(definition, value)
    if kind == 3:
        return _within_bounds(definition, str(value), len(str(value)), "min_length", "max_length")
    if kind in (4, 10):
        number = int(str(value)) if kind == 4 else float(str(value))
        return _within_bounds(definition, number, number, "min_value", "max_value")
    if kind == 5:
        return _as_bool(value)
    if kind in SNOWFLAKE_OPTION_TYPES:
        snowflake = int(str(getattr(value, "id", value)))
        _resolve(snowflake, kind, guild, resolved)
        return str(snowflake)
    raise EmulatorError(f"option {definition['name']!r}: type {kind} is not supported")


def _within_bounds(
    definition: JSON, value: object, measure: float, low_key: str, high_key: str
) -> object:
    """Discord's client does not let a person send a value outside min/max."""
    low, high = definition.get(low_key), definition.get(high_key)
    if (low is not None and measure < low) or (high is not None and measure > high):
        raise EmulatorError(f"option {definition['name']!r}: {value!r} is outside [{low}, {high}]")
    return value


def _choice_value(definition: JSON, value: object) -> object:
    """Accept a choice's value or its display name (what a person would type)."""
    choices: list[JSON] = definition.get("choices") or []
    if not choices:
        return value
    for choice in choices:
        if value in (choice["value"], choice["name"]) or str(value) == str(choice["value"]):
            return choice["value"]
    allowed = [choice["name"] for choice in choices]
    raise EmulatorError(f"option {definition['name']!r}: {value!r} is not one of {allowed}")


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise EmulatorError(f"{value!r} is not a boolean")


def _resolve(snowflake: int, kind: int, guild: Guild, resolved: JSON) -> None:
    member = guild.members.get(snowflake)
    if kind in (6, 9) and member is not None:
        resolved.setdefault("users", {})[str(snowflake)] = member.user.payload()
        resolved.setdefault("members", {})[str(snowflake)] = member.payload(
            with_user=False, permissions=guild.member_permissions(member)
        )
    elif kind in (8, 9) and snowflake in guild.roles:
        resolved.setdefault("roles", {})[str(snowflake)] = guild.roles[snowflake].payload()
    elif kind == 7 and snowflake in guild.channels:
        resolved.setdefault("channels", {})[str(snowflake)] = guild.channels[snowflake].payload()


def interaction_payload(
    record: Interaction,
    guild: Guild,
    channel: Channel,
    member: Member,
    message: Message | None = None,
) -> JSON:
    """The INTERACTION_CREATE `d` with every key discord.py's `Interaction` requires."""
    payload: JSON = {
        "id": str(record.id),
        "application_id": str(record.application_id),
        "type": record.type,
        "token": record.token,
        "version": 1,
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        "guild_id": str(guild.id),
        "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
        "channel_id": str(channel.id),
        "channel": channel.payload(),
        "member": member.payload(permissions=guild.member_permissions(member)),
        "data": record.data,
        "locale": "en-US",
        "guild_locale": "en-US",
        "app_permissions": str(BOT_APP_PERMISSIONS),
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(guild.id)},
        "context": 0,
    }
    if message is not None:
        payload["message"] = message.payload()
    return payload


# --- applying the bot's answers -------------------------------------------------------------


def apply_callback(
    state: EmulatorState,
    record: Interaction,
    body: Mapping[str, Any],
    files: list[UploadedFile],
) -> JSON:
    """Handle POST /interactions/{id}/{token}/callback; return the `with_response` JSON."""
    now = time.monotonic()
    if record.callback_type is not None:
        raise ApiError(400, 40060, "Interaction has already been acknowledged.")
    if state.ack_deadline_s is not None and now - record.dispatched_at > state.ack_deadline_s:
        raise ApiError(404, 10062, "Unknown interaction")
    callback_type = int(body["type"])
    data: JSON = dict(body.get("data") or {})
    message: Message | None = None
    if callback_type == 4:
        check_limits(data)
        message = _new_response_message(state, record, data, files)
    elif callback_type == 5:
        flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
        message = _new_response_message(state, record, {"flags": flags}, [])
    elif callback_type in (6, 7):
        message = _component_message(state, record)
        if callback_type == 7:
            check_limits(data)
            state.edit_message(message, data, files, attachment_specs=data.get("attachments"))
    elif callback_type not in (1, 8, 9):
        raise ApiError(400, 50035, f"Invalid interaction response type {callback_type}")

    record.callback_type, record.callback_data, record.callback_at = callback_type, data, now
    record.original = message
    record.ephemeral = message is not None and message.ephemeral
    state.notify()
    return _callback_response(record, callback_type, message)


def _callback_response(record: Interaction, callback_type: int, message: Message | None) -> JSON:
    interaction: JSON = {
        "id": str(record.id),
        "type": record.type,
        "response_message_loading": callback_type == 5,
        "response_message_ephemeral": record.ephemeral,
    }
    resource: JSON = {"type": callback_type}
    if message is not None:
        interaction["response_message_id"] = str(message.id)
        resource["message"] = message.payload()
    return {"interaction": interaction, "resource": resource}


def _component_message(state: EmulatorState, record: Interaction) -> Message:
    if record.message_id is None:
        raise ApiError(400, 50035, "Only component interactions can update a message")
    return state.find_message(record.channel_id, record.message_id)


def _new_response_message(
    state: EmulatorState,
    record: Interaction,
    fields: Mapping[str, Any],
    files: list[UploadedFile],
) -> Message:
    bot = state.bot_for_application(record.application_id)
    user = state.users().get(record.user_id)
    metadata: JSON = {
        "id": str(record.id),
        "type": record.type,
        "user": user.payload() if user is not None else {"id": str(record.user_id)},
        "authorizing_integration_owners": {"0": str(record.guild_id)},
    }
    if record.message_id is not None:
        metadata["interacted_message_id"] = str(record.message_id)
    return state.create_message(
        record.channel_id,
        bot.user,
        fields,
        files,
        attachment_specs=fields.get("attachments"),
        type=CHAT_INPUT_COMMAND_MESSAGE if record.type == 2 else 0,
        webhook_id=record.application_id,
        application_id=record.application_id,
        interaction_metadata=metadata,
    )


def post_followup(
    state: EmulatorState, record: Interaction, fields: Mapping[str, Any], files: list[UploadedFile]
) -> Message:
    """POST /webhooks/{app}/{token}: the first one after a thinking defer fills its placeholder."""
    if record.callback_type is None:
        raise ApiError(404, 10015, "Unknown Webhook")
    check_limits(fields)
    specs = fields.get("attachments")
    placeholder = record.original
    if placeholder is not None and placeholder.loading and not record.followups:
        message = state.edit_message(placeholder, fields, files, attachment_specs=specs)
    else:
        message = _new_response_message(state, record, fields, files)
    record.followups.append(message)
    state.notify()
    return message


def webhook_message(record: Interaction, message_ref: str) -> Message:
    """The message `@original` or a follow-up id names for this interaction token."""
    if message_ref == "@original":
        if record.original is None or record.original.deleted:
            raise ApiError(404, 10008, "Unknown Message")
        return record.original
    wanted = int(message_ref)
    for message in record.messages():
        if message.id == wanted and not message.deleted:
            return message
    raise ApiError(404, 10008, "Unknown Message")


def edit_webhook_message(
    state: EmulatorState,
    record: Interaction,
    message_ref: str,
    fields: Mapping[str, Any],
    files: list[UploadedFile],
) -> Message:
    """PATCH /webhooks/{app}/{token}/messages/{@original|id}."""
    message = webhook_message(record, message_ref)
    check_limits(fields)
    state.edit_message(message, fields, files, attachment_specs=fields.get("attachments"))
    if message is record.original:
        record.original_edits += 1
    state.notify()
    return message
