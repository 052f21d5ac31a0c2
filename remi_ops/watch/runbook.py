"""The runbook verbs, implemented once: everything a person can ask of the watchdog.

Bubabot's slash commands (``bubabot.watcher_service``), the running watcher's answer to
the command line (``Watcher.serve_requests``) and the command line without a watcher
(which assembles the same ``Watcher`` under the target's lock and calls
``TargetWatch.attach`` first) all call these on a ``Watcher``. Each verb returns a frozen
value (``remi_ops.watch.results`` or a domain value); words and markup are the callers'.

``TargetWatch`` methods block (processes, files, SQLite), so the verbs run them with
``asyncio.to_thread``: awaiting a verb never blocks the event loop. ``target`` None means
the default (first) target, except for ``errors`` and ``history``, where it means every
target. ``who`` is the person, as the audit log and history name them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from remi_ops.alerts.model import AlertKey, AlertLine, Silence
from remi_ops.domain import AlertKind, CheckTrigger, ErrorGroup, RestartReport, ScanResult, Trigger
from remi_ops.exceptions import UnknownAlert, UnknownErrorGroup
from remi_ops.store.records import HistoryItem
from remi_ops.supervision.policy import spends_budget
from remi_ops.supervision.supervisor import State
from remi_ops.watch.results import (
    AlertsView,
    ControlOutcome,
    ControlResult,
    HealthResult,
    MaintenanceResult,
    Resolution,
    RestartTally,
)

if TYPE_CHECKING:
    from remi_ops.watch.target import TargetWatch
    from remi_ops.watch.watcher import Watcher

log = logging.getLogger(__name__)
#: "since the beginning" for history, which the store asks a bound for
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# ---------------------------------------------------------------------------- read

async def health(watcher: Watcher, target: str | None,
                 trigger: CheckTrigger = CheckTrigger.OPERATOR) -> HealthResult:
    """Run a full check now (it may act on what it finds, as a scheduled one would) — or,
    when ``watcher`` does not supervise (the command line with no watcher running), only
    look: observe and assess, acting on nothing and recording nothing."""
    watch = watcher.watch(target)

    def check() -> HealthResult:
        if not watcher.supervising:
            report = watch.look()
            return HealthResult(report, "", watcher.store.last_scan(watch.name),
                                restart_tally(watcher, watch))
        report = watch.check(trigger)
        return HealthResult(report, watch.supervisor.reason, watch.last_scan,
                            restart_tally(watcher, watch))

    return await asyncio.to_thread(check)


def restart_tally(watcher: Watcher, watch: TargetWatch) -> RestartTally:
    """Restarts within the budget window from the store (first starts are not restarts),
    and how many of them were crashes (blocking: SQLite)."""
    window_s = watch.target.restart.budget_window_s
    since = watcher.clock.now() - timedelta(seconds=window_s)
    restarts = [r for r in watcher.store.restarts(watch.name, since)
                if r.trigger is not Trigger.START]
    return RestartTally(len(restarts), sum(1 for r in restarts if spends_budget(r.trigger)),
                        window_s)


async def errors(watcher: Watcher, target: str | None, since: timedelta | None,
                 limit: int = 10) -> list[ErrorGroup]:
    """Error groups seen within ``since`` (None: ever), most recently seen first."""
    names = _names(watcher, target)
    after = None if since is None else watcher.clock.now() - since

    def read() -> list[ErrorGroup]:
        groups = [g for name in names for g in watcher.store.error_groups(name, after, limit)]
        return sorted(groups, key=lambda g: g.last_seen, reverse=True)[:limit]

    return await asyncio.to_thread(read)


async def history(watcher: Watcher, target: str | None,
                  since: timedelta | None) -> list[HistoryItem]:
    """Incidents and restarts within ``since`` (None: ever), newest first."""
    name = None if target is None else watcher.watch(target).name
    after = EPOCH if since is None else watcher.clock.now() - since
    return await asyncio.to_thread(watcher.store.history, after, name)


async def alerts(watcher: Watcher, target: str | None = None) -> AlertsView:
    """Firing alerts (of ``target``, or all) and the silences in force."""
    name = None if target is None else watcher.watch(target).name
    silences = watcher.hub.engine.silences(watcher.clock.now())
    return AlertsView(tuple(watcher.hub.alerts(name)), tuple(silences))


# ---------------------------------------------------------------------------- act

async def restart(watcher: Watcher, target: str | None, who: str,
                  reason: str) -> RestartReport:
    """Stop the whole tree and start again; the scan test follows by itself."""
    watch = watcher.watch(target)
    return await asyncio.to_thread(watch.restart, who, reason, Trigger.OPERATOR)


async def stop(watcher: Watcher, target: str | None, who: str, reason: str) -> ControlResult:
    """Stop the whole tree; nothing restarts it until someone starts it (persisted)."""
    watch = watcher.watch(target)

    def stop_it() -> ControlResult:
        before = watch.supervisor.process
        watch.stop(who, reason)
        if before is None:
            return _control(watch, ControlOutcome.WAS_NOT_RUNNING, (), who)
        return _control(watch, ControlOutcome.STOPPED, (before.pid,), who)

    return await asyncio.to_thread(stop_it)


async def start(watcher: Watcher, target: str | None, who: str) -> ControlResult:
    """Start it if it is not running; ends an operator stop or maintenance."""
    watch = watcher.watch(target)

    def start_it() -> ControlResult:
        before = watch.supervisor.process
        watch.start(who)
        after = watch.supervisor.process
        if after is None:
            return _control(watch, ControlOutcome.START_FAILED, (), who)
        same = before is not None and before.pid == after.pid
        outcome = ControlOutcome.ALREADY_RUNNING if same else ControlOutcome.STARTED
        return _control(watch, outcome, (after.pid,), who)

    return await asyncio.to_thread(start_it)


def _control(watch: TargetWatch, outcome: ControlOutcome, pids: tuple[int, ...],
             who: str) -> ControlResult:
    supervisor = watch.supervisor
    return ControlResult(watch.name, outcome, str(supervisor.state), supervisor.reason, pids,
                         who)


async def scan_test(watcher: Watcher, target: str | None, who: str) -> ScanResult:
    """Run the out-of-band /scan smoke test now, record it and announce it."""
    watch = watcher.watch(target)
    return await asyncio.to_thread(watch.scan_test, CheckTrigger.OPERATOR, who)


async def maintenance(watcher: Watcher, target: str | None, duration_s: float, who: str,
                      reason: str) -> MaintenanceResult:
    """Hands off for ``duration_s``: no restarts, no alerts; it always ends by itself."""
    if duration_s <= 0:
        raise ValueError("maintenance needs a duration; end it with end_maintenance")
    watch = watcher.watch(target)
    until = watcher.clock.now() + timedelta(seconds=duration_s)

    def enter() -> MaintenanceResult:
        watch.maintenance(until, who, reason)
        return _maintenance(watch, until, who)

    return await asyncio.to_thread(enter)


async def end_maintenance(watcher: Watcher, target: str | None,
                          who: str) -> MaintenanceResult:
    """Supervision is back on now (a Remi that is not running is started)."""
    watch = watcher.watch(target)

    def leave() -> MaintenanceResult:
        was_on = watch.supervisor.state is State.MAINTENANCE
        watch.end_maintenance(who)
        return dataclasses.replace(_maintenance(watch, None, who), was_on=was_on)

    return await asyncio.to_thread(leave)


def _maintenance(watch: TargetWatch, until: datetime | None, who: str) -> MaintenanceResult:
    return MaintenanceResult(watch.name, until, str(watch.supervisor.state),
                             watch.supervisor.reason, who)


# ---------------------------------------------------------------------------- alerts, errors

async def silence(watcher: Watcher, matchers: Mapping[str, str], duration_s: float, who: str,
                  reason: str) -> Silence:
    """Mute alerts matching every glob (labels target, kind, fingerprint) for a while."""
    result: Silence = await watcher.hub.silence(dict(matchers), duration_s, who, reason)
    return result


async def ack(watcher: Watcher, ref: str, who: str) -> list[AlertLine]:
    """Acknowledge by alert id, key or message key: repeats stop, messages show who."""
    lines = await watcher.hub.ack(ref, who)
    if not lines:
        raise UnknownAlert(ref)
    return lines


async def resolve(watcher: Watcher, target: str | None, fingerprint: str,
                  who: str) -> Resolution:
    """Mark an error group fixed; when it happens again the store calls it a regression
    (a new post, instead of a counter edit on a message nobody reads any more)."""
    watch = watcher.watch(target)
    store, now = watcher.store, watcher.clock.now()

    def mark() -> ErrorGroup:
        if not store.resolve_error_group(watch.name, fingerprint, now):
            raise UnknownErrorGroup(watch.name, fingerprint)
        group = store.error_group(watch.name, fingerprint)
        if group is None:  # deleted between the two statements: nothing does that today
            raise UnknownErrorGroup(watch.name, fingerprint)
        return group

    group = await asyncio.to_thread(mark)
    # its alert resolves too, so a regression is posted anew rather than a count edited
    await watcher.hub.declare_over(AlertKey(watch.name, AlertKind.ERROR_GROUP, fingerprint))
    log.info("error group %s marked fixed by %s", fingerprint, who, extra={"target": watch.name})
    return Resolution(group, who)


def _names(watcher: Watcher, target: str | None) -> list[str]:
    return list(watcher.watches) if target is None else [watcher.watch(target).name]
