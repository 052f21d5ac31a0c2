"""The base of every settings model: how one is made, from data or by keyword.

Two ways to make one, held to the same rules:

* from parsed data (a TOML document, a dict): ``Model.parse(data)``, which converts as the
  file is read (a str to a ``Path``, a list to a tuple, an int to a float, ``"5"`` to 5 as
  pydantic's lax mode did) and checks each field's type and constraints;
* by keyword, in code and tests: ``TargetSettings(name=…, workdir=tmp, command=(…))``.
  msgspec checks nothing then, so the types are mypy's to check and every model's
  ``__post_init__`` checks the rest, as reading a file does: the ranges and patterns
  (``remi_ops.config_bounds``), the rules across fields, a list given for a tuple, and a
  target's paths resolved against its ``workdir``. ``msgspec.structs.replace`` (what
  pydantic's ``model_copy(update=…)`` was, unchecked) runs it again: msgspec ≥ 0.21.

One ``__post_init__`` rather than a second constructor: keyword construction is how code
and tests make settings (sixty places), and a rule kept in one place cannot be skipped.
"""

from __future__ import annotations

import functools
import typing
from pathlib import Path
from typing import Any, Self

import msgspec
from msgspec.structs import force_setattr

from remi_ops.config_bounds import broken_constraint


class SettingsModel(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Frozen; an unknown key is an error, never silently ignored. (``kw_only`` is not
    inherited, and mypy reads each model's own ``frozen``: each model says both.)"""

    def __post_init__(self) -> None:
        """A model built by keyword holds to what reading a file checks (msgspec checks
        constraints only while it converts): lists become tuples, ranges and patterns."""
        for name in _tuple_fields(type(self)):
            if isinstance(value := getattr(self, name), list):
                force_setattr(self, name, tuple(value))
        if (problem := broken_constraint(self)) is not None:
            raise ValueError(problem)

    @classmethod
    def parse(cls, data: Any) -> Self:
        """The model from parsed TOML or JSON data, converted as a file is read;
        ``msgspec.ValidationError`` (a ``ValueError``) names the first problem
        (``remi_ops.config_problems`` finds them all)."""
        return msgspec.convert(cls.short_forms(data), type=cls, strict=False,
                               dec_hook=path_from_data)

    @classmethod
    def short_forms(cls, data: Any) -> Any:
        """``data`` with the file's short forms written out in full (none here)."""
        return data


def path_from_data(kind: type, value: Any) -> Any:
    """msgspec's ``dec_hook``: a ``Path`` from its text (msgspec converts no ``Path``); its
    ``TypeError`` becomes a ``msgspec.ValidationError`` naming the field."""
    if kind is Path and isinstance(value, str | Path):
        return Path(value)
    raise TypeError(f"Expected `{getattr(kind, '__name__', kind)}`, got "
                    f"`{type(value).__name__}`")


def field_rule(name: str, rule: Any, *args: Any) -> None:
    """``rule(*args)``, its ``ValueError`` naming the field (``listen: must be host:port``)."""
    try:
        rule(*args)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


@functools.cache
def _tuple_fields(model: type[msgspec.Struct]) -> tuple[str, ...]:
    """The fields typed ``tuple[…]`` (or an Optional one); read once per model."""
    return tuple(f.name for f in msgspec.structs.fields(model)
                 if tuple in (typing.get_origin(t) for t in (f.type, *typing.get_args(f.type))))
