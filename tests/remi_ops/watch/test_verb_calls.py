"""Verbs by name through the spool: a running watcher answers with the verb's value, as JSON
that the command line turns back into the very value (or with what went wrong)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bubabot_local.simkit import sim_settings

from remi_ops.alerts.hub import jsonable
from remi_ops.alerts.model import AlertKey, AlertLine, LineState, Silence
from remi_ops.alerts.testalert import DeliveryReport, SinkDelivery
from remi_ops.domain import (
    Check,
    ErrorGroup,
    Finding,
    HealthReport,
    LogKind,
    ProcessIdentity,
    ProcessSnapshot,
    RestartReport,
    ScanOutcome,
    ScanResult,
    Severity,
    Status,
    Trigger,
)
from remi_ops.logs.redact import redact_patterns
from remi_ops.logs.redacted import Redacted
from remi_ops.watch import spool, verb_calls
from remi_ops.watch.results import (
    ControlOutcome,
    ControlResult,
    HealthResult,
    MaintenanceResult,
    Resolution,
)
from remi_ops.watch.watcher import Watcher
from remi_ops.watch.wire import decode

NOW = datetime(2026, 1, 24, 3, 0, tzinfo=UTC)
GROUP = ErrorGroup("3f2a9c0d1e4b5a69", "remi",
                   redact_patterns("NameError: name 'asyncio' is not defined"),
                   LogKind.CRASH, 37, NOW - timedelta(hours=2), NOW, redact_patterns("Traceback …"),
                   "scoring_async.py in score_batch_async")
SCAN = ScanResult("remi", ScanOutcome.FAILED, NOW, 2.5, 1, redact_patterns("NameError"),
                  "exit code 1",
                  GROUP.fingerprint, over_budget=True, commit="a1b2c3d")
VALUES: dict[str, Any] = {
    "health": HealthResult(HealthReport(
        "remi", Status.DOWN, NOW,
        (Finding(Check.EVENT_LOOP, Status.DOWN, "blocked for 850s", Severity.PAGE,
                 redact_patterns("stack")),),
        ProcessSnapshot(ProcessIdentity(4242, 1.5e9, ("python", "bot.py"), "/srv/remi"),
                        "sleeping", 3.5, 2**27, (4243,), 3600.0),
        "unhealthy", 850.0, 1.0, "connected", (GROUP.fingerprint,), 2),
        "event loop blocked for 850s", SCAN),
    "restart": RestartReport("remi", "hang", Trigger.HANG, "watchdog", True, NOW, 4.2, 4242, 4343,
                             "", redact_patterns("stack dump")),
    "stop": ControlResult("remi", ControlOutcome.STOPPED, "stopped", "stopped by ana: x",
                          (4242,), "cli:ana"),
    "start": ControlResult("remi", ControlOutcome.START_FAILED, "backoff", "start failed"),
    "scan_test": SCAN,
    "maintenance": MaintenanceResult("remi", NOW + timedelta(hours=1), "maintenance", "x"),
    "end_maintenance": MaintenanceResult("remi", None, "running", "ended", "cli:ana"),
    "silence": Silence("s1", (("kind", "error_group"), ("target", "remi")), NOW,
                       NOW + timedelta(hours=2), "cli:ana", "noisy deploy"),
    "ack": [AlertLine(AlertKey("remi", "error_group", GROUP.fingerprint), "0123456789ab",
                      LineState.FIRING, Severity.WARNING, "NameError", NOW, None, 3, "cli:ana",
                      {"evidence": "Traceback", "count": 3})],
    "resolve": Resolution(GROUP, "discord:1 (jordan)"),
    "test_alert": DeliveryReport("0" * 32, "remi", "TEST — no action needed",
                                 (SinkDelivery("file", True, "0" * 32),
                                  SinkDelivery("webhook", False, None, "Discord answered 503"))),
}


@pytest.mark.parametrize("action", sorted(VALUES))
def test_every_answer_comes_back_as_the_same_value(action: str) -> None:
    value = VALUES[action]
    assert verb_calls.decode_answer(action, json.loads(json.dumps(jsonable(value)))) == value


def test_every_spool_action_is_a_verb_with_a_known_answer() -> None:
    assert set(verb_calls.VERBS) == set(spool.ACTIONS) == set(verb_calls.ANSWERS) == set(VALUES)


def test_redacted_text_comes_back_redacted() -> None:
    """The watcher's JSON renders ``Redacted`` values: read back, they are ``Redacted`` again
    (equal as text is not enough: a plain ``str`` could not be sent on)."""
    back = decode(ScanResult, json.loads(json.dumps(jsonable(SCAN))))
    assert type(back.output) is Redacted and back.output == SCAN.output
    assert type(back.started_at) is datetime and back == SCAN


def test_decoding_refuses_what_does_not_fit() -> None:
    with pytest.raises(TypeError):
        decode(ControlResult, ["not", "an", "object"])
    with pytest.raises(TypeError):
        decode(int, None)


@pytest.fixture
async def watcher(tmp_path: Path) -> AsyncIterator[Watcher]:
    assembled = Watcher(sim_settings(tmp_path), console=None, environ={})
    assembled.acquire_locks()
    yield assembled
    assembled.close()


async def served(watcher: Watcher, action: str, args: dict[str, Any],
                 target: str = "remi") -> dict[str, Any]:
    state_dir = watcher.settings.state_dir
    request_id = spool.submit(state_dir, target, action, args, "cli:ana")
    await watcher.serve_requests()
    answer = spool.read_answer(state_dir, request_id)
    assert answer is not None
    return answer


async def test_the_watcher_answers_with_the_verbs_value(watcher: Watcher) -> None:
    watcher.store.upsert_error_groups("remi", [GROUP])
    answer = await served(watcher, "resolve", {"fingerprint": GROUP.fingerprint})
    assert answer["ok"] and answer["error"] == ""
    resolution = verb_calls.decode_answer("resolve", answer["value"])
    # the person is the request file's owner (tests run as root), not what the file says
    assert resolution.by == "cli:root" and resolution.group.resolved_at is not None


async def test_the_watcher_answers_what_went_wrong_and_whose_fault(watcher: Watcher) -> None:
    unknown = await served(watcher, "ack", {"ref": "remi/hang"})
    assert not unknown["ok"] and not unknown["usage"]
    assert "nothing firing matches 'remi/hang'" in unknown["error"]
    bad_target = await served(watcher, "health", {}, target="nope")
    assert not bad_target["ok"] and bad_target["usage"]
    assert "unknown target 'nope'" in bad_target["error"]
    too_long = await served(watcher, "silence", {"matchers": {"target": "remi"},
                                                 "duration_s": 30 * 86400, "reason": "x"})
    assert not too_long["ok"] and too_long["usage"]


async def test_an_unknown_action_is_refused(watcher: Watcher) -> None:
    with pytest.raises(ValueError, match="unknown action 'reboot'"):
        await verb_calls.perform(watcher, "reboot", "remi", {}, "cli:ana")


def test_a_request_nobody_took_can_be_withdrawn(tmp_path: Path) -> None:
    request_id = spool.submit(tmp_path, "remi", "restart", {"reason": "x"}, "cli:ana")
    assert spool.withdraw(tmp_path, request_id)
    assert spool.take(tmp_path) == []
    assert not spool.withdraw(tmp_path, request_id)
