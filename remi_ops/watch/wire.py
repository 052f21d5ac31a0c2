"""Frozen values back from their JSON form (``remi_ops.alerts.hub.jsonable`` is the way out).

pydantic (already how the configuration is validated) reads the dataclasses' own type
hints, so a new field needs no codec of its own: nested dataclasses, enums, aware
datetimes, tuples, lists, mappings and optionals.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter, ValidationError


@functools.cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def decode(kind: Any, data: Any) -> Any:
    """``data`` (parsed JSON) as a value of type ``kind``; ``TypeError`` when it cannot be."""
    try:
        return _adapter(kind).validate_python(data)
    except ValidationError as exc:
        raise TypeError(f"cannot decode {data!r} as {kind!r}: {exc}") from exc
