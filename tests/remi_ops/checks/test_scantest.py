"""The out-of-band /scan smoke test: judgement with a fake runner, then the simulator for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bubabot_local import remi_sim_faults

from remi_ops.checks.scantest import OUTPUT_TAIL_CHARS, run_scan_test
from remi_ops.config import ScanTestSettings
from remi_ops.domain import ScanOutcome, ScanResult
from remi_ops.logs.redact import redact_patterns
from remi_ops.logs.redacted import Redacted

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 1, 24, 3, 0, tzinfo=UTC)
SECRET = "s3cr3t-soundcloud-token"
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "packages/core/analyzers/scoring_async.py", line 14, in score_batch_async\n'
    "    results = await asyncio.gather(*tasks)\n"
    "NameError: name 'asyncio' is not defined\n"
)
SETTINGS = ScanTestSettings(command=("python", "-m", "remi_scan"), timeout_s=60,
                            expect_pattern=r"scan ok: \S+ score=\d+", latency_budget_s=30)


@dataclass(frozen=True)
class FakeResult:
    """What the runner reports about one command."""

    exit_code: int | None = 0
    output: str = "scan ok: https://soundcloud.com/x score=87\n"
    timed_out: bool = False
    duration_s: float = 1.5


@dataclass
class FakeRunner:
    """Returns a canned result and records how it was called."""

    result: FakeResult | Exception = field(default_factory=FakeResult)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, argv: Sequence[str], **kwargs: Any) -> FakeResult:
        self.calls.append({"argv": argv, **kwargs})
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def redact(text: str) -> Redacted:
    return redact_patterns(text.replace(SECRET, "[REDACTED]"))


def fingerprint(text: str) -> str:
    return "fp:" + ("NameError" if "NameError" in text else "other")


def judge(result: FakeResult | Exception, settings: ScanTestSettings = SETTINGS,
          runner: FakeRunner | None = None) -> ScanResult:
    return run_scan_test("remi", settings, cwd=Path("/srv/remi"), env={"A": "1"},
                         run=runner or FakeRunner(result), redact=redact,
                         fingerprint=fingerprint, now=NOW, commit="abc123")


@pytest.mark.parametrize(("result", "outcome", "reason_part", "fp", "over"), [
    (FakeResult(), ScanOutcome.PASSED, "passed in 1.5 s", "", False),
    (FakeResult(duration_s=45.0), ScanOutcome.PASSED, "over the 30 s budget", "", True),
    (FakeResult(exit_code=1, output=TRACEBACK), ScanOutcome.FAILED, "exit code 1, expected 0",
     "fp:NameError", False),
    (FakeResult(exit_code=2, output="usage: error"), ScanOutcome.FAILED, "exit code 2", "",
     False),
    (FakeResult(output="scan finished\n"), ScanOutcome.FAILED, "did not match", "", False),
    (FakeResult(exit_code=None, output="", timed_out=True, duration_s=60.0),
     ScanOutcome.TIMED_OUT, "no result within 60 s", "", False),
    (FakeResult(exit_code=-9, output="killed"), ScanOutcome.FAILED, "exit code -9", "", False),
    (FakeResult(exit_code=None, output=""), ScanOutcome.FAILED, "no exit code", "", False),
], ids=["pass", "over-budget", "fail-traceback", "fail-exit", "pattern-miss", "timeout",
        "signal", "no-exit-code"])
def test_judgement_table(result: FakeResult, outcome: ScanOutcome, reason_part: str, fp: str,
                         over: bool) -> None:
    """Each kind of run becomes the right outcome, reason, fingerprint and budget flag."""
    scan = judge(result)
    assert scan.outcome is outcome
    assert reason_part in scan.reason
    assert scan.fingerprint == fp
    assert scan.over_budget is over
    assert (scan.target, scan.started_at, scan.commit) == ("remi", NOW, "abc123")
    assert scan.exit_code == result.exit_code
    assert scan.duration_s == result.duration_s


def test_not_configured_runs_nothing() -> None:
    """An empty command is NOT_CONFIGURED and the runner is never called."""
    runner = FakeRunner()
    scan = judge(FakeResult(), ScanTestSettings(), runner)
    assert scan.outcome is ScanOutcome.NOT_CONFIGURED
    assert runner.calls == []


def test_runner_gets_argv_cwd_env_and_timeout() -> None:
    """The runner is called with an argv list (never a shell) and the configured timeout."""
    runner = FakeRunner()
    judge(FakeResult(), runner=runner)
    assert runner.calls == [{"argv": ["python", "-m", "remi_scan"], "cwd": Path("/srv/remi"),
                             "env": {"A": "1"}, "timeout_s": 60, "max_output_bytes": 256 * 1024}]


def test_secrets_are_redacted_from_output_and_fingerprint_input() -> None:
    """Nothing that leaves the scan test holds the secret."""
    seen: list[str] = []

    def spy(text: str) -> str:
        seen.append(text)
        return "fp"

    output = f"token={SECRET}\n{TRACEBACK}"
    scan = run_scan_test("remi", SETTINGS, cwd=Path(), env={},
                         run=FakeRunner(FakeResult(exit_code=1, output=output)),
                         redact=redact, fingerprint=spy, now=NOW)
    assert SECRET not in scan.output
    assert "[REDACTED]" in scan.output
    assert seen and all(SECRET not in text for text in seen)


def test_long_output_keeps_the_end() -> None:
    """Output is bounded to its last ~4000 characters, where the error is."""
    output = "x" * 10_000 + TRACEBACK
    scan = judge(FakeResult(exit_code=1, output=output))
    assert scan.output.endswith(TRACEBACK)
    assert len(scan.output) < OUTPUT_TAIL_CHARS + 100
    assert "earlier characters cut" in scan.output


def test_no_fingerprint_without_a_traceback_or_a_fingerprinter() -> None:
    """fingerprint is only asked about a traceback, and may be absent."""
    assert judge(FakeResult(exit_code=1, output="plain failure")).fingerprint == ""
    scan = run_scan_test("remi", SETTINGS, cwd=Path(), env={},
                         run=FakeRunner(FakeResult(exit_code=1, output=TRACEBACK)),
                         redact=redact, fingerprint=None, now=NOW)
    assert scan.outcome is ScanOutcome.FAILED
    assert scan.fingerprint == ""


def test_a_command_that_cannot_start_fails_with_a_reason() -> None:
    """An OSError from the runner (missing executable) is a FAILED result, not a crash."""
    scan = judge(FileNotFoundError(2, "No such file or directory", "remi_scan"))
    assert scan.outcome is ScanOutcome.FAILED
    assert "could not run the scan test" in scan.reason


# --------------------------------------------------------------------------- for real


@dataclass(frozen=True)
class LocalResult:
    exit_code: int | None
    output: str
    timed_out: bool
    duration_s: float


def run_locally(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout_s: float,
                max_output_bytes: int) -> LocalResult:
    """A minimal stand-in for process.run_command: own session, killed whole on timeout."""
    started = time.monotonic()
    proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        timed_out = True
    text = out[-max_output_bytes:].decode("utf-8", errors="replace")
    return LocalResult(None if timed_out else proc.returncode, text, timed_out,
                       time.monotonic() - started)


@pytest.mark.integration
@pytest.mark.parametrize(("mode", "outcome"), [
    ("pass", ScanOutcome.PASSED),
    ("fail", ScanOutcome.FAILED),
    ("hang", ScanOutcome.TIMED_OUT),
])
def test_simulator_scan_through_a_real_runner(tmp_path: Path, mode: str,
                                             outcome: ScanOutcome) -> None:
    """The simulator's `scan` subcommand, in each persisted mode, judged end to end."""
    remi_sim_faults.save_scan_mode(tmp_path, mode)
    settings = ScanTestSettings(
        command=(sys.executable, "-m", "bubabot_local.remi_sim", "scan"), timeout_s=1.5,
        expect_pattern=r"^scan ok: \S+ score=\d+", latency_budget_s=30)
    scan = run_scan_test("remi", settings, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, run=run_locally,
                         redact=redact, fingerprint=fingerprint, now=NOW)
    assert scan.outcome is outcome, scan
    if mode == "fail":
        assert scan.exit_code == 1
        assert "NameError: name 'asyncio' is not defined" in scan.output
        assert "scoring_async.py" in scan.output
        assert scan.fingerprint == "fp:NameError"
    if mode == "pass":
        assert "score=87 (simulated)" in scan.output
