"""Frozen values back from their JSON form (``remi_ops.alerts.hub.jsonable`` is the way out).

msgspec (already how the configuration is read) reads the dataclasses' own type hints, so
a new field needs no codec of its own: nested dataclasses, enums, aware datetimes, tuples,
lists, mappings and optionals. ``Redacted`` text comes back as ``Redacted``
(:func:`_from_json`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from remi_ops.logs.redacted import Redacted


def _from_json(kind: type, value: Any) -> Any:
    """msgspec's ``dec_hook`` for the types it does not read itself: ``Redacted``."""
    if kind is Redacted and isinstance(value, str):
        return Redacted.from_wire(value)
    raise TypeError(f"Expected `{getattr(kind, '__name__', kind)}`, got "
                    f"`{type(value).__name__}`")


def decode(kind: Any, data: Any) -> Any:
    """``data`` (parsed JSON) as a value of type ``kind``; ``TypeError`` when it cannot be."""
    try:
        return msgspec.convert(data, type=kind, strict=False, dec_hook=_from_json)
    except msgspec.ValidationError as exc:
        raise TypeError(f"cannot decode {data!r} as {kind!r}: {exc}") from exc
