"""Record: what one check (or one operator verb) saw and did, written to the store.

The one place a watch writes its history: restarts from the act step, state transitions
and the supervisor's persisted state from the event stream, and the ``.bot_health`` file.
(Error occurrences and log positions are stored as they are read: ``watch.occurrences``.)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import datetime

from remi_ops.checks.healthfile import write_health_file
from remi_ops.config import Settings, TargetSettings
from remi_ops.domain import Event, EventKind, HealthReport, RestartReport
from remi_ops.store.database import Store
from remi_ops.supervisor import Supervisor

log = logging.getLogger(__name__)


def state_key(target: str) -> str:
    """Where a target's supervisor state is persisted (it survives a watcher restart)."""
    return f"supervisor:{target}"


def record_acts(store: Store, restarts: Sequence[RestartReport]) -> None:
    for report in restarts:
        store.record_restart(report)


def record_events(store: Store, supervisor: Supervisor, events: Sequence[Event]) -> None:
    """State transitions go to history; the supervisor's state is persisted after them."""
    changed = False
    for event in events:
        if event.kind is EventKind.STATE_CHANGED:
            store.record_transition(event.target, event.at, event.data["from"],
                                    event.data["to"], event.data["reason"])
            changed = True
    if changed:
        store.put_state(state_key(supervisor.target), supervisor.to_dict())


def record_health(settings: Settings, target: TargetSettings, report: HealthReport,
                  now: datetime) -> None:
    """``.bot_health`` for other scripts; a disk problem is logged, never fatal."""
    try:
        write_health_file(target.health_file, report, watcher_pid=os.getpid(),
                          watcher_beat=now,
                          check_interval_s=settings.watchdog.check_interval_s)
    except OSError as exc:
        log.warning("%s: cannot write %s: %s", target.name, target.health_file, exc)
