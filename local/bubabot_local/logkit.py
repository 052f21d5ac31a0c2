"""Helpers for log parsing tests: parse text as a check would, and read the sample logs.

The samples are real logs of each supported layout, kept in the repository's
``tests/data/logs`` (its README says how they were made); like the other kits, this one
serves the tests of a source checkout. Shared by the tests that mirror
``remi_ops.logs.parse``, ``logs.tracebacks`` and ``logs.error_groups``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from remi_ops.domain import LogRecord
from remi_ops.logs.parse import LogParser

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "logs"
NOW = datetime(2026, 1, 24, 12, 0, tzinfo=UTC)
NAME_ERROR = "NameError: name 'asyncio' is not defined"


def parse(text: str, **kw: object) -> list[LogRecord]:
    parser = LogParser(**kw)  # type: ignore[arg-type]
    return parser.feed(text) + parser.flush()


def sample(name: str) -> list[LogRecord]:
    return parse((DATA / name).read_text(encoding="utf-8"))


def kinds(records: list[LogRecord]) -> list[str]:
    return [str(r.kind) for r in records]
