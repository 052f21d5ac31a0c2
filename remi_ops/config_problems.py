"""Every problem of a configuration msgspec refused, in words about the file.

msgspec stops at the first problem and says it in its own words ("Expected `float` <=
3600.0 - at `$.watchdog.check_interval_s`"): no value given, no range's meaning, and the
next problem only after the operator fixed this one. Reading a good file stays one
``msgspec.convert``; only once it refused one does :func:`problems_of` look again, table by
table and key by key, for every key that is unknown, missing, of the wrong type or out of
its range. A table's rules across its keys (its model's ``__post_init__``) are judged once
its keys are each fine.

A problem is ``(where, what)``: ``(("targets", 0, "restart", "jitter"), "allowed 0 <= value
<= 1; got 2")``; ``remi_ops.config_file`` names the target and writes the line.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from typing import Any

import msgspec

from remi_ops.config_bounds import constraint_problem
from remi_ops.config_model import path_from_data

Where = tuple[str | int, ...]
Problem = tuple[Where, str]

#: msgspec's names of types, as the file's reader knows them
_KINDS = {"float": "a number", "int": "a whole number", "str": "text",
          "bool": "true or false", "array": "a list", "list": "a list", "tuple": "a list",
          "object": "a table", "dict": "a table", "Path": "a path (text)",
          "null": "nothing", "NoneType": "nothing"}
_EXPECTED = re.compile(r"Expected `(\w+)`, got `(\w+)`")
_UNKNOWN = re.compile(r"Object contains unknown field `(.+)`")
_MISSING = re.compile(r"Object missing required field `(.+)`")
_STEP = re.compile(r"\.(\w+)|\[(\d+)\]")  # a mapping's key is msgspec's [...]: left out


def problems_of(kind: Any, data: Any) -> list[Problem]:
    """Every problem of ``data`` read as ``kind`` (none when msgspec reads it)."""
    return _problems(kind, data, ())


def _problems(kind: Any, value: Any, where: Where) -> list[Problem]:
    try:
        msgspec.convert(value, type=kind, strict=False, dec_hook=path_from_data)
    except msgspec.ValidationError as exc:
        error = exc
    else:
        return []
    bare = _bare(_chosen(kind, value))
    found: list[Problem] = []
    if isinstance(bare, type) and issubclass(bare, msgspec.Struct) and isinstance(value, dict):
        found = _table_problems(bare, value, where)
    elif _item_type(bare) is not None and isinstance(value, list | tuple):
        item = _item_type(bare)
        found = [p for i, v in enumerate(value) for p in _problems(item, v, (*where, i))]
    elif typing.get_origin(bare) in (dict, Mapping) and isinstance(value, dict):  # env
        of = typing.get_args(bare)[-1]
        found = [p for k, v in value.items() for p in _problems(of, v, (*where, str(k)))]
    return found or [_described(error, _chosen(kind, value), value, where)]


def _table_problems(model: type[msgspec.Struct], table: dict[str, Any],
                    where: Where) -> list[Problem]:
    fields = {f.encode_name: f for f in msgspec.structs.fields(model)}
    found: list[Problem] = [((*where, key), "unknown key") for key in table if key not in fields]
    for name, field in fields.items():
        if name in table:
            found += _problems(field.type, table[name], (*where, name))
        elif field.required:
            found.append(((*where, name), "required"))
    return found


def _described(error: msgspec.ValidationError, kind: Any, value: Any,
               where: Where) -> Problem:
    """One msgspec error as (where, what), in the file's words."""
    text, at, path = str(error).rpartition(" - at `")
    if not at:
        text, path = str(error), "$`"
    steps = tuple(int(i) if i else name for name, i in _STEP.findall(path.rstrip("`")))
    where = (*where, *steps)
    if not steps and (problem := constraint_problem(kind, value)) is not None:
        return where, problem
    if (found := _UNKNOWN.fullmatch(text)) is not None:
        return (*where, found[1]), "unknown key"
    if (found := _MISSING.fullmatch(text)) is not None:
        return (*where, found[1]), "required"
    if (found := _EXPECTED.fullmatch(text)) is not None:
        wanted, got = (_KINDS.get(k, k) for k in found.groups())
        return where, f"must be {wanted}, not {got}"
    if text.startswith("Invalid enum value") and (choices := _choices(kind)):
        return where, f"must be one of {choices}; got {value!r}"
    field, colon, rest = text.partition(":")  # a model's own rule: "unit: required when …"
    if colon and field and " " not in field:
        return (*where, *field.split(".")), rest.strip()
    return where, text


def _chosen(kind: Any, value: Any) -> Any:
    """Of an Optional, the type a value that is not None is read as."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and value is not None:
        return next(a for a in typing.get_args(kind) if a is not type(None))
    return kind


def _bare(kind: Any) -> Any:
    """The type without its ``Annotated`` constraints."""
    return typing.get_args(kind)[0] if hasattr(kind, "__metadata__") else kind


def _item_type(kind: Any) -> Any:
    """Of ``tuple[X, ...]``, ``X``; else None."""
    args = typing.get_args(kind)
    many = typing.get_origin(kind) is tuple and len(args) == 2 and args[1] is Ellipsis
    return args[0] if many else None


def _choices(kind: Any) -> str:
    """A ``Literal``'s choices, as the file writes them: ``'process', 'systemd'``."""
    bare = _bare(kind)
    args = typing.get_args(bare) if typing.get_origin(bare) is typing.Literal else ()
    return ", ".join(repr(a) for a in args)
