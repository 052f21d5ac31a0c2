"""Record: what one check (or one operator verb) saw and did, written to the store.

The one place a watch writes its history: restarts from the act step, state transitions
and the supervisor's persisted state from the event stream, the events that announce them
(the event journal, in the same transaction), and the ``.bot_health`` file. (Error
occurrences and log positions are stored as they are read: ``watch.occurrences``.)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import datetime

from remi_ops.alerts.hub import NOTIFIED_EVENTS, AlertHub, jsonable
from remi_ops.alerts.model import Condition
from remi_ops.checks.healthbeat import REWRITE_SHARE, keeper_for, let_go
from remi_ops.config import Settings, TargetSettings
from remi_ops.domain import Event, EventKind, HealthReport, RestartReport
from remi_ops.host.workdir import skip_in_missing_workdir
from remi_ops.store.database import Store
from remi_ops.store.event_journal_rows import JournalEntry, journal_tx
from remi_ops.store.history_rows import record_restart_tx, record_transition_tx
from remi_ops.store.records import encode_time
from remi_ops.store.state_rows import put_state_tx
from remi_ops.supervision.supervisor import Supervisor

log = logging.getLogger(__name__)


def state_key(target: str) -> str:
    """Where a target's supervisor state is persisted (it survives a watcher restart)."""
    return f"supervisor:{target}"


def record_outcome(store: Store, supervisor: Supervisor, restarts: Sequence[RestartReport],
                   events: Sequence[Event]) -> None:
    """Restarts, state transitions, the supervisor's persisted state and the events that
    announce them, in one transaction: a watcher killed right after a restart leaves the
    restart *and* its announcement for the next one (the outbox takes the journal)."""
    changed = [e for e in events if e.kind is EventKind.STATE_CHANGED]
    notices = [journal_entry(e) for e in events if e.kind in NOTIFIED_EVENTS]
    if not (restarts or changed or notices):
        return
    at = encode_time(supervisor_now(events, restarts))
    with store.transaction() as tx:
        for report in restarts:
            record_restart_tx(tx, report)
        for event in changed:
            record_transition_tx(tx, event.target, encode_time(event.at), event.data["from"],
                                 to_state=event.data["to"], reason=event.data["reason"])
        if changed:
            put_state_tx(tx, state_key(supervisor.target), supervisor.to_dict(), at)
        journal_tx(tx, notices)


def journal_entry(event: Event) -> JournalEntry:
    """An event as the alert engine will take it (``AlertHub.event`` does the same)."""
    return JournalEntry(event.target, event.at, str(event.kind), event.severity.value,
                        event.summary, jsonable(event.data))


def supervisor_now(events: Sequence[Event], restarts: Sequence[RestartReport]) -> datetime:
    """When this outcome happened: its latest event or restart."""
    return max([e.at for e in events] + [r.at for r in restarts])


def record_health(settings: Settings, target: TargetSettings, report: HealthReport,
                  now: datetime) -> None:
    """``.bot_health`` for other scripts, rewritten when it says something new, else
    touched (``checks.healthbeat``); a disk problem is logged, never fatal, and a
    missing workdir is never created to hold it."""
    keeper, pid = keeper_for(target.health_file), os.getpid()
    interval_s = settings.watchdog.check_interval_s
    if keeper.touch(report, watcher_pid=pid, watcher_beat=now, check_interval_s=interval_s,
                    rewrite_after_s=settings.watchdog.heartbeat_stale_s * REWRITE_SHARE):
        return  # nothing new: its mtime moved (a touch never creates the workdir)
    if skip_in_missing_workdir(target.health_file, target.workdir, target.name):
        return
    try:
        keeper.rewrite(report, watcher_pid=pid, watcher_beat=now, check_interval_s=interval_s)
    except OSError as exc:
        log.warning("cannot write %s: %s", target.health_file, exc, extra={"target": target.name})


def let_go_of_health_files(settings: Settings, names: Sequence[str]) -> None:
    """A clean stop of the watcher of ``names``: their ``.bot_health`` stays (its last
    word), the spare of its exchange goes (``checks.healthbeat.let_go``)."""
    for name in names:
        let_go(settings.target(name).health_file)


class JournaledNotifier:
    """The watch's ``Notifier`` in a watcher: conditions go to the alert hub at once, while
    events reach it only through the event journal (``record_outcome`` wrote them), so
    each is announced once, crash or not. The journal is taken right after the
    conditions that came before it (``AlertHub.take_journal``), keeping their order."""

    def __init__(self, hub: AlertHub) -> None:
        self.hub = hub

    def observe(self, now: datetime, target: str, conditions: list[Condition]) -> None:
        self.hub.observe(now, target, conditions)

    def event(self, event: Event) -> None:
        if event.kind not in NOTIFIED_EVENTS:
            self.hub.event(event)  # nothing today: the hub keeps only notified events
        else:
            self.hub.take_journal()
