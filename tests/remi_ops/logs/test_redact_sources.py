"""Redacted where the text is made: the stuck stack (beacon and discord.py's "Loop thread
traceback"), a fatal-config traceback, and the hang evidence's log tail (issue 10 item 1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from remi_ops.checks.evidence import LOG_TAIL_CHARS, redacted_tail
from remi_ops.checks.health import HealthAssessor, Observation
from remi_ops.config import HealthSettings
from remi_ops.domain import Check, LogKind, LogRecord, ProcessIdentity, ProcessSnapshot
from remi_ops.logs.redact import Redactor
from remi_ops.logs.redacted import Redacted

NOW = datetime(2026, 1, 24, 3, 0, tzinfo=UTC)
IDENT = ProcessIdentity(101, 1.0, ("python", "main.py"), "/r")
TOKEN = "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs"
CLIENT_ID = "a8Gh2kLm9PqR4sTuVwXy"
BEARER = "eyAbc123-literal-bearer-0001"
SC_SECRET = "sc-secret-from-env-9f8e7d"
STACK = ("Loop thread stack (most recent call last):\n"
         '  File "/srv/remi/soundcloud_client.py", line 41, in fetch_track\n'
         f'    resp = requests.get(url, params={{"client_id": "{CLIENT_ID}"}},\n'
         f'                        headers={{"Authorization": "Bearer {BEARER}"}})\n'
         f'  File "/srv/remi/sc.py", line 9, in auth\n    secret = "{SC_SECRET}"\n')


@dataclass(frozen=True)
class StuckBeacon:
    pid: int | None = 101
    age_s: float = 1.0
    blocked_for_s: float = 900.0
    loop_lag_s: float = 0.0
    stuck_stack: str | None = STACK
    beat_age_s: float = 900.0
    interval_s: float = 2.0


def observe(**kw: Any) -> Observation:
    snap = ProcessSnapshot(IDENT, "sleeping", 1.0, 2**27, (), 3600.0)
    return Observation(target="remi", at=NOW, supervisor_state="running", expected_alive=True,
                       process=snap, **kw)


def assessor() -> HealthAssessor:
    return HealthAssessor(HealthSettings(), redact=Redactor([SC_SECRET]))


def leaks(text: str) -> list[str]:
    return [s for s in (TOKEN, CLIENT_ID, BEARER, SC_SECRET) if s in text]


def test_the_beacons_stuck_stack_is_redacted_into_the_finding() -> None:
    report = assessor().assess(observe(beacon=StuckBeacon()))
    [finding] = [f for f in report.findings if f.check is Check.EVENT_LOOP]
    assert isinstance(finding.evidence, Redacted)
    assert "fetch_track" in finding.evidence
    assert not leaks(finding.evidence), finding.evidence


def test_discord_pys_loop_thread_traceback_is_redacted_into_the_finding() -> None:
    hang = LogRecord(LogKind.HANG, "WARNING",
                     "Shard ID None heartbeat blocked for more than 900 seconds.",
                     "discord.gateway", traceback=STACK.replace(
                         "Loop thread stack", "Loop thread traceback"), blocked_s=900.0)
    report = assessor().assess(observe(records=(hang,)))
    [finding] = [f for f in report.findings if f.check is Check.EVENT_LOOP]
    assert "fetch_track" in finding.evidence
    assert not leaks(finding.evidence), finding.evidence


def test_a_fatal_config_traceback_is_redacted_in_summary_and_evidence() -> None:
    """``client.run("<token>")`` on the traceback's source line, and the token in the message
    past its 200th character: neither the summary nor the evidence keeps it."""
    message = "x" * 190 + f" Improper token passed: {TOKEN}"
    tb = ("Traceback (most recent call last):\n"
          '  File "/srv/remi/main.py", line 12, in <module>\n'
          f'    client.run("{TOKEN}")\n'
          "discord.errors.LoginFailure: Improper token has been passed.\n")
    fatal = LogRecord(LogKind.FATAL_CONFIG, "ERROR", message, "discord.client", traceback=tb)
    report = assessor().assess(observe(records=(fatal,)))
    [finding] = [f for f in report.findings if f.check is Check.CONFIG]
    assert "LoginFailure" in finding.evidence
    assert not leaks(finding.evidence) and not leaks(finding.summary)
    assert TOKEN[:20] not in finding.summary


def test_the_log_tail_is_redacted_before_it_is_cut(tmp_path: Path) -> None:
    """The 4-KB tail cannot start inside a token and keep its secret part."""
    log = tmp_path / "bot_error.log"
    after = "\n[2026-01-24 03:00:01] " + "y" * (LOG_TAIL_CHARS - 52) + "\n"
    log.write_text("x" * 9000 + f" token {TOKEN}{after}", encoding="utf-8")
    cut_inside = log.read_text(encoding="utf-8")[-LOG_TAIL_CHARS:]
    assert TOKEN[-20:] in cut_inside  # a plain 4-KB tail would keep the token's end
    tail = redacted_tail(log, LOG_TAIL_CHARS, Redactor())
    assert len(tail) <= LOG_TAIL_CHARS
    assert TOKEN[-12:] not in tail and "yyyy" in tail

