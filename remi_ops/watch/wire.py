"""Frozen values back from their JSON form (``remi_ops.alerts.hub.jsonable`` is the way out).

Driven by the dataclasses' own type hints, so a new field needs no codec of its own:
nested dataclasses, enums, aware datetimes, tuples, lists, mappings and optionals.
"""

from __future__ import annotations

import dataclasses
import enum
import types
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Union, get_args, get_origin, get_type_hints

_SCALARS = (str, int, float, bool)


def decode(kind: Any, data: Any) -> Any:
    """``data`` (parsed JSON) as a value of type ``kind``; ``TypeError`` when it cannot be."""
    if kind is Any:
        return data
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        return _optional(kind, data)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _dataclass(kind, data)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(data)
    if kind is datetime:
        return datetime.fromisoformat(str(data))
    if origin is tuple:
        return _tuple(get_args(kind), data)
    if origin is list:
        (item,) = get_args(kind)
        return [decode(item, x) for x in data]
    if origin in (dict, Mapping):
        _, value = get_args(kind)
        return {str(k): decode(value, v) for k, v in data.items()}
    if kind in _SCALARS and isinstance(data, _SCALARS):
        return kind(data)
    raise TypeError(f"cannot decode {data!r} as {kind!r}")


def _optional(kind: Any, data: Any) -> Any:
    choices = [c for c in get_args(kind) if c is not type(None)]
    if data is None:
        if len(choices) == len(get_args(kind)):
            raise TypeError(f"{kind!r} does not allow None")
        return None
    if len(choices) != 1:
        raise TypeError(f"cannot decode a union of several types: {kind!r}")
    return decode(choices[0], data)


def _dataclass(kind: type, data: Any) -> Any:
    if not isinstance(data, Mapping):
        raise TypeError(f"{kind.__name__} needs an object, got {data!r}")
    hints = get_type_hints(kind)
    values = {f.name: decode(hints[f.name], data[f.name])
              for f in dataclasses.fields(kind) if f.init and f.name in data}
    return kind(**values)


def _tuple(items: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    if len(items) == 2 and items[1] is Ellipsis:
        return tuple(decode(items[0], x) for x in data)
    if len(items) != len(data):
        raise TypeError(f"expected {len(items)} items, got {data!r}")
    return tuple(decode(k, x) for k, x in zip(items, data, strict=True))
