"""The allowed range of every number in the configuration, and the message when one is out.

A number the config accepts must be one the code can use: ``budget_window_s = 1e308`` used
to pass validation and then kill the watcher in ``timedelta(seconds=…)``, and
``check_interval_s = 1e9`` meant a heartbeat that never refreshed. Each numeric field in
``remi_ops.config`` carries :func:`seconds`, :func:`count` or :func:`amount`; the error names
the allowed range: ``watchdog.check_interval_s: allowed 0 < value <= 3600 (1h 00m); got 1e9``.
NaN and infinity (TOML ``nan``, ``inf``) fall outside every range.

Each is a ``msgspec.Meta`` constraint (msgspec checks it while it reads the file) that
carries its :class:`Within` in ``extra``, for the message and for the same check on a
model built by keyword (``RestartPolicy(jitter=2)``), which msgspec does not validate.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

import msgspec

from remi_ops.durations import format_duration

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
#: the longest window anything keeps (budgets, flapping, silences, repeats)
MAX_WINDOW_S = 30 * DAY
#: Discord ids are unsigned 64-bit snowflakes
MAX_SNOWFLAKE = 2**64 - 1
#: the largest bound msgspec's integer constraints take
INT64_MAX = 2**63 - 1
#: the key of a bound's :class:`Within` in its ``msgspec.Meta.extra``
WITHIN = "within"


@dataclass(frozen=True, slots=True)
class Within:
    """``low <(=) value <= high``."""

    low: float
    high: float
    low_open: bool = False  # True: the low end itself is not allowed (0 s makes no sense)
    is_duration: bool = False

    def admits(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high  # NaN fails both comparisons

    def problem(self, value: float) -> str:
        """What the operator reads: the allowed range and the value given."""
        return f"allowed {self.describe()}; got {value!r}"

    def describe(self) -> str:
        low_sign = "<" if self.low_open else "<="
        high = _number(self.high)
        if self.is_duration:
            high += f" ({format_duration(self.high)})"
        return f"{_number(self.low)} {low_sign} value <= {high}"

    def meta(self) -> msgspec.Meta:
        """The same range as msgspec's constraint, carrying this for the message.

        msgspec's integer bounds must fit in an int64: a snowflake's top (2**64 - 1) is
        left to the model's ``__post_init__`` (:func:`broken_constraint`)."""
        high = None if isinstance(self.high, int) and self.high > INT64_MAX else self.high
        if self.low_open:
            return msgspec.Meta(gt=self.low, le=high, extra={WITHIN: self})
        return msgspec.Meta(ge=self.low, le=high, extra={WITHIN: self})


def seconds(low: float, high: float, *, low_open: bool = True) -> msgspec.Meta:
    """A duration in seconds; by default more than ``low`` (zero waits make no sense)."""
    return Within(low, high, low_open=low_open, is_duration=True).meta()


def count(low: int, high: int) -> msgspec.Meta:
    """A whole number from ``low`` to ``high`` inclusive."""
    return Within(low, high).meta()


def amount(low: float, high: float, *, low_open: bool = False) -> msgspec.Meta:
    """A plain number (a factor, a fraction, a percentage, megabytes)."""
    return Within(low, high, low_open=low_open).meta()


def within_of(annotation: Any) -> Within | None:
    """The range an annotation carries (``Annotated[float, seconds(…)]``, in an Optional
    or as a tuple's items too), or None."""
    for meta in getattr(annotation, "__metadata__", ()):
        within = (meta.extra or {}).get(WITHIN) if isinstance(meta, msgspec.Meta) else None
        if isinstance(within, Within):
            return within
    for arg in typing.get_args(annotation):
        if arg is not Ellipsis and (found := within_of(arg)) is not None:
            return found
    return None


def constraint_problem(annotation: Any, value: object) -> str | None:
    """What is wrong with ``value`` under the constraints ``annotation`` carries (a range, a
    text's length or pattern), in the operator's words; None when nothing is.

    The one wording for both ways a model is made: a file read by msgspec (whose own text,
    "Expected `float` <= 3600.0", names neither the range's meaning nor the value) and a
    model built by keyword, which msgspec does not check."""
    for meta in getattr(annotation, "__metadata__", ()):
        if not isinstance(meta, msgspec.Meta):
            continue
        within = (meta.extra or {}).get(WITHIN)
        if (isinstance(within, Within) and isinstance(value, int | float)
                and not isinstance(value, bool) and not within.admits(value)):
            return within.problem(value)
        if isinstance(value, str) and (problem := _text_problem(meta, value)) is not None:
            return problem
    return None


def _text_problem(meta: msgspec.Meta, value: str) -> str | None:
    """A text's length, then its pattern (described in words when the field says them)."""
    low, high = meta.min_length or 0, meta.max_length
    if len(value) < low or (high is not None and len(value) > high):
        size = (f"at least {low}" if high is None else f"{low} to {high}" if low
                else f"at most {high}")
        return f"must be {size} characters long; got {len(value)}"
    if meta.pattern is not None and re.search(meta.pattern, value) is None:
        return f"must be {meta.description or 'matching ' + meta.pattern}; got {value!r}"
    return None


@functools.cache
def constrained_fields(model: type[msgspec.Struct]) -> tuple[tuple[str, Any, bool], ...]:
    """(name, the annotation of the value or of each item, whether a tuple) of the model's
    fields that carry a constraint; read once per model."""
    found = []
    for field in msgspec.structs.fields(model):
        annotation, args = field.type, typing.get_args(field.type)
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # an Optional
            annotation = next(a for a in args if a is not type(None))
            args = typing.get_args(annotation)
        many = typing.get_origin(annotation) is tuple and len(args) == 2 and args[1] is ...
        item = args[0] if many else annotation
        if any(isinstance(m, msgspec.Meta) for m in getattr(item, "__metadata__", ())):
            found.append((field.name, item, many))
    return tuple(found)


def broken_constraint(model: msgspec.Struct) -> str | None:
    """``field: problem`` for the first value of ``model`` outside its constraints (a tuple's
    items are ``field.0``, as the file's errors name them), or None: what the model's
    ``__post_init__`` raises, so a model built by keyword is held to the file's rules."""
    for name, annotation, many in constrained_fields(type(model)):
        value = getattr(model, name)
        items = enumerate(value) if many else ((None, value),)
        for index, item in items:
            if (problem := constraint_problem(annotation, item)) is not None:
                return f"{name if index is None else f'{name}.{index}'}: {problem}"
    return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
