"""A runbook verb by name, with JSON arguments: what a spool request asks for.

The running watcher carries out the command line's requests with ``perform`` (audited
first, and announced); the
command line without a watcher calls the very same ``perform`` on a ``Watcher`` of its
own, so both paths run one implementation. ``ANSWERS`` says what each verb returns, so
the command line can turn a watcher's JSON answer back into that value.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from remi_ops.alerts.model import AlertLine, Silence
from remi_ops.alerts.testalert import DeliveryReport, send_test_alert
from remi_ops.domain import RestartReport, ScanResult
from remi_ops.watch import runbook
from remi_ops.watch.audit import AUDITED, audited
from remi_ops.watch.results import ControlResult, HealthResult, MaintenanceResult, Resolution
from remi_ops.watch.wire import decode

if TYPE_CHECKING:
    from remi_ops.watch.watcher import Watcher

Verb = Callable[["Watcher", str, Mapping[str, Any], str], Awaitable[Any]]


def _reason(args: Mapping[str, Any]) -> str:
    return str(args.get("reason", ""))


async def _test_alert(watcher: Watcher, target: str, who: str) -> DeliveryReport:
    """A marked test notification through every sink of this process (no incident)."""
    return await send_test_alert(watcher.outbox, watcher.watch(target).name, who)


VERBS: dict[str, Verb] = {
    "health": lambda w, target, args, who: runbook.health(w, target),
    "restart": lambda w, target, args, who: runbook.restart(w, target, who, _reason(args)),
    "stop": lambda w, target, args, who: runbook.stop(w, target, who, _reason(args)),
    "start": lambda w, target, args, who: runbook.start(w, target, who),
    "scan_test": lambda w, target, args, who: runbook.scan_test(w, target, who),
    "maintenance": lambda w, target, args, who: runbook.maintenance(
        w, target, float(args["duration_s"]), who, _reason(args)),
    "end_maintenance": lambda w, target, args, who: runbook.end_maintenance(w, target, who),
    "silence": lambda w, target, args, who: runbook.silence(
        w, {str(k): str(v) for k, v in dict(args["matchers"]).items()},
        float(args["duration_s"]), who, _reason(args)),
    "ack": lambda w, target, args, who: runbook.ack(w, str(args["ref"]), who),
    "resolve": lambda w, target, args, who: runbook.resolve(w, target, str(args["fingerprint"]),
                                                            who),
    "test_alert": lambda w, target, args, who: _test_alert(w, target, who),
}

#: the type of each verb's value, for decoding a watcher's answer
ANSWERS: dict[str, Any] = {
    "health": HealthResult, "restart": RestartReport, "stop": ControlResult,
    "start": ControlResult, "scan_test": ScanResult, "maintenance": MaintenanceResult,
    "end_maintenance": MaintenanceResult, "silence": Silence, "ack": list[AlertLine],
    "resolve": Resolution, "test_alert": DeliveryReport,
}


async def perform(watcher: Watcher, action: str, target: str, args: Mapping[str, Any],
                  who: str, *, request_id: str = "") -> Any:
    """Carry out ``action`` on ``target`` for the command line's person ``who``; ``ValueError``
    for an action nobody knows. A verb that changes something is audited first and
    announced in #quick-tasks (``remi_ops.watch.audit``), with or without a watcher."""
    try:
        verb = VERBS[action]
    except KeyError:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(VERBS)}") from None
    if action not in AUDITED:
        return await verb(watcher, target, args, who)
    return await audited(watcher, who, action, target, args,
                         lambda: verb(watcher, target, args, who), request_id=request_id,
                         announce=True)


def decode_answer(action: str, value: Any) -> Any:
    """The value a watcher answered for ``action``, rebuilt from its JSON form."""
    return decode(ANSWERS[action], value)
