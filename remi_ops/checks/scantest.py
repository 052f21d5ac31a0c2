"""The out-of-band ``/scan`` smoke test: run Remi's scan path and judge the result.

A bot cannot invoke another bot's slash command, so the runbook step "test with /scan" runs
a configured argv instead (``[targets.scan_test] command``) that exercises the same scoring
code. This module is the pure judgement around an injected runner: the real one is
``remi_ops.host.run_command`` (which kills the whole process tree on timeout); tests pass
a fake. Every excerpt that leaves here is redacted and bounded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from remi_ops.config import ScanTestSettings
from remi_ops.domain import ScanOutcome, ScanResult
from remi_ops.exceptions import RemiOpsError
from remi_ops.logs.redact import Redact
from remi_ops.logs.redacted import Redacted

#: characters of (redacted) output kept on a result: the end, where the error is
OUTPUT_TAIL_CHARS = 4000
#: bytes of output the runner keeps from the command
MAX_OUTPUT_BYTES = 256 * 1024
TRACEBACK_MARKER = "Traceback (most recent call last):"
CUT_MARKER = "[… {cut} earlier characters cut]\n"


class CommandResultLike(Protocol):
    """The fields of ``remi_ops.host.CommandResult`` this module reads."""

    @property
    def exit_code(self) -> int | None: ...

    @property
    def output(self) -> str: ...

    @property
    def timed_out(self) -> bool: ...

    @property
    def duration_s(self) -> float: ...


def run_scan_test(
    target_name: str,
    settings: ScanTestSettings,
    *,
    cwd: Path,
    env: Mapping[str, str],
    run: Callable[..., CommandResultLike],
    redact: Redact,
    fingerprint: Callable[[str], str] | None,
    now: datetime,
    commit: str = "",
) -> ScanResult:
    """Run the configured scan test once with ``run`` and judge it.

    ``run`` is called as ``run(argv, cwd=, env=, timeout_s=, max_output_bytes=)``.
    ``fingerprint`` gets the redacted output of a failure that holds a Python traceback.
    """
    if not settings.command:
        return ScanResult(target=target_name, outcome=ScanOutcome.NOT_CONFIGURED,
                          started_at=now, duration_s=0.0, commit=commit,
                          reason="no scan test configured ([targets.scan_test] command)")
    try:
        result = run(list(settings.command), cwd=cwd, env=env, timeout_s=settings.timeout_s,
                     max_output_bytes=MAX_OUTPUT_BYTES)
    except (OSError, RemiOpsError) as exc:
        return ScanResult(target=target_name, outcome=ScanOutcome.FAILED, started_at=now,
                          duration_s=0.0, commit=commit,
                          reason=redact(f"could not run the scan test: {exc}"))
    return judge(target_name, settings, result, redact=redact, fingerprint=fingerprint,
                 now=now, commit=commit)


def judge(
    target_name: str,
    settings: ScanTestSettings,
    result: CommandResultLike,
    *,
    redact: Redact,
    fingerprint: Callable[[str], str] | None,
    now: datetime,
    commit: str = "",
) -> ScanResult:
    """Turn one finished (or timed-out) run into a ``ScanResult``; pure."""
    redacted = redact(result.output)
    base = ScanResult(target=target_name, outcome=ScanOutcome.PASSED, started_at=now,
                      duration_s=result.duration_s, exit_code=result.exit_code,
                      output=tail(redacted), commit=commit)
    if result.timed_out:
        return replace(base, outcome=ScanOutcome.TIMED_OUT,
                       reason=f"no result within {_secs(settings.timeout_s)}; "
                              "the scan test's process tree was killed")
    problem = _failure(settings, result)
    if problem:
        fp = fingerprint(redacted) if fingerprint and TRACEBACK_MARKER in redacted else ""
        return replace(base, outcome=ScanOutcome.FAILED, reason=problem, fingerprint=fp)
    if result.duration_s > settings.latency_budget_s:
        return replace(base, over_budget=True,
                       reason=f"passed in {_secs(result.duration_s)}, over the "
                              f"{_secs(settings.latency_budget_s)} budget")
    return replace(base, reason=f"passed in {_secs(result.duration_s)}")


def _failure(settings: ScanTestSettings, result: CommandResultLike) -> str:
    """Why a finished run failed its expectations, or "" when it met them."""
    if result.exit_code != settings.expect_exit_code:
        got = "no exit code" if result.exit_code is None else f"exit code {result.exit_code}"
        return f"{got}, expected {settings.expect_exit_code}"
    if settings.expect_pattern and not re.search(settings.expect_pattern, result.output,
                                                 re.MULTILINE):
        return f"output did not match /{settings.expect_pattern}/"
    return ""


def tail(text: Redacted, limit: int = OUTPUT_TAIL_CHARS) -> Redacted:
    """The last ``limit`` characters of ``text``, saying how much was cut."""
    if len(text) <= limit:
        return text
    marker = CUT_MARKER.format(cut=len(text) - limit)
    return text.tail(limit + len(marker), marker)


def _secs(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
