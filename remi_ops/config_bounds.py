"""The allowed range of every number in the configuration, and the message when one is out.

A number the config accepts must be one the code can use: ``budget_window_s = 1e308`` used
to pass validation and then kill the watcher in ``timedelta(seconds=…)``, and
``check_interval_s = 1e9`` meant a heartbeat that never refreshed. Each numeric field in
``remi_ops.config`` carries :func:`seconds`, :func:`count` or :func:`amount`; the error names
the allowed range: ``watchdog.check_interval_s: allowed 0 < value <= 3600 (1h 00m); got 1e9``.
NaN and infinity (TOML ``nan``, ``inf``) fall outside every range.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import AfterValidator

from remi_ops.durations import format_duration

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
#: the longest window anything keeps (budgets, flapping, silences, repeats)
MAX_WINDOW_S = 30 * DAY
#: Discord ids are unsigned 64-bit snowflakes
MAX_SNOWFLAKE = 2**64 - 1


@dataclass(frozen=True, slots=True)
class Within:
    """``low <(=) value <= high``; applied by pydantic after the value is parsed."""

    low: float
    high: float
    low_open: bool = False  # True: the low end itself is not allowed (0 s makes no sense)
    is_duration: bool = False

    def __call__(self, value: float) -> float:
        above = value > self.low if self.low_open else value >= self.low
        if not (above and value <= self.high):  # NaN fails both comparisons
            raise ValueError(f"allowed {self.describe()}; got {value!r}")
        return value

    def describe(self) -> str:
        low_sign = "<" if self.low_open else "<="
        high = _number(self.high)
        if self.is_duration:
            high += f" ({format_duration(self.high)})"
        return f"{_number(self.low)} {low_sign} value <= {high}"


def seconds(low: float, high: float, *, low_open: bool = True) -> AfterValidator:
    """A duration in seconds; by default more than ``low`` (zero waits make no sense)."""
    return AfterValidator(Within(low, high, low_open=low_open, is_duration=True))


def count(low: int, high: int) -> AfterValidator:
    """A whole number from ``low`` to ``high`` inclusive."""
    return AfterValidator(Within(low, high))


def amount(low: float, high: float, *, low_open: bool = False) -> AfterValidator:
    """A plain number (a factor, a fraction, a percentage, megabytes)."""
    return AfterValidator(Within(low, high, low_open=low_open))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
