"""Each runbook verb once, on a real ``Watcher`` (SQLite in tmp_path, the Remi simulator).

The watcher is assembled as the command line does without a running watcher: locks
taken, loops not started; a test starts Remi (``startup``) or only attaches.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bubabot_local.simkit import control, sim_settings, sims_in

from remi_ops.alerts.hub import AlertHub, jsonable
from remi_ops.alerts.text import health_lines, maintenance_text
from remi_ops.domain import (
    CheckTrigger,
    ErrorGroup,
    HealthReport,
    LogKind,
    RestartReport,
    ScanOutcome,
    Status,
    Trigger,
)
from remi_ops.exceptions import UnknownAlert, UnknownErrorGroup, UnknownTarget
from remi_ops.logs.redact import redact_patterns
from remi_ops.testing import wait_until_async as until
from remi_ops.watch import runbook
from remi_ops.watch.results import ControlOutcome, HealthResult
from remi_ops.watch.target import TargetWatch
from remi_ops.watch.watcher import Watcher
from remi_ops.watch.wire import decode

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("reap_sims")]
WHO = "cli:ana"


@pytest.fixture
async def watcher(tmp_path: Path) -> AsyncIterator[Watcher]:
    assembled = Watcher(sim_settings(tmp_path), console=None, environ={})
    assembled.acquire_locks()
    assembled.supervising = True  # as after ``start``; the tests start targets themselves
    yield assembled
    assembled.close()


def remi(watcher: Watcher) -> TargetWatch:
    return watcher.watch(None)


async def started(watcher: Watcher) -> int:
    """Start Remi the way a watcher does at startup; its pid."""
    await asyncio.to_thread(remi(watcher).startup)
    [process] = sims_in(remi(watcher).target.workdir)
    return process.pid



def persisted_state(watcher: Watcher) -> str:
    return str(watcher.store.get_state("supervisor:remi")["state"])


# ---------------------------------------------------------------------------- read


async def test_health_runs_a_check_and_says_why_the_supervisor_is_where_it_is(
        watcher: Watcher) -> None:
    pid = await started(watcher)
    result = await runbook.health(watcher, None)
    assert result.report.target == "remi" and result.report.process is not None
    assert result.report.process.identity.pid == pid
    assert result.report.supervisor_state in ("starting", "running")
    assert str(pid) in result.state_reason
    assert result.last_scan is None


async def test_health_of_an_unknown_target_is_an_error(watcher: Watcher) -> None:
    with pytest.raises(UnknownTarget):
        await runbook.health(watcher, "nope")


async def test_errors_are_windowed_and_newest_first(watcher: Watcher) -> None:
    now = watcher.clock.now()
    old = group("a" * 16, now - timedelta(hours=3))
    new = group("b" * 16, now - timedelta(minutes=5))
    watcher.store.upsert_error_groups("remi", [old, new])
    recent = await runbook.errors(watcher, None, timedelta(hours=1))
    assert [g.fingerprint for g in recent] == [new.fingerprint]
    everything = await runbook.errors(watcher, "remi", None)
    assert [g.fingerprint for g in everything] == [new.fingerprint, old.fingerprint]


def group(fingerprint: str, at: Any) -> ErrorGroup:
    return ErrorGroup(fingerprint, "remi",
                      redact_patterns("NameError: name 'asyncio' is not defined"),
                      LogKind.CRASH, 2, at, at, redact_patterns("Traceback …"),
                      "scoring_async.py")


# ---------------------------------------------------------------------------- act


async def test_restart_replaces_the_process_and_history_shows_it(watcher: Watcher) -> None:
    old = await started(watcher)
    report = await runbook.restart(watcher, None, WHO, "testing")
    assert report.ok and report.old_pid == old and report.new_pid != old
    assert report.requested_by == WHO and report.trigger == "operator"
    assert [p.pid for p in sims_in(remi(watcher).target.workdir)] == [report.new_pid]
    items = await runbook.history(watcher, None, timedelta(hours=1))
    assert any(i.restart is not None and "testing" in i.restart.reason for i in items)
    assert await runbook.history(watcher, "remi", None) == items


async def test_stop_stops_the_tree_and_the_supervisor_persists_it(watcher: Watcher) -> None:
    pid = await started(watcher)
    result = await runbook.stop(watcher, None, WHO, "deploy")
    assert (result.outcome, result.pids, result.state) == (ControlOutcome.STOPPED, (pid,),
                                                           "stopped")
    assert "deploy" in result.reason and result.by == WHO
    assert sims_in(remi(watcher).target.workdir) == []
    assert persisted_state(watcher) == "stopped"


async def test_stop_when_nothing_runs_says_so(watcher: Watcher) -> None:
    await asyncio.to_thread(remi(watcher).attach)
    result = await runbook.stop(watcher, None, WHO, "just in case")
    assert result.outcome is ControlOutcome.WAS_NOT_RUNNING and result.pids == ()
    assert persisted_state(watcher) == "stopped"


async def test_start_starts_what_is_not_running_and_leaves_what_is(watcher: Watcher) -> None:
    await asyncio.to_thread(remi(watcher).attach)
    first = await runbook.start(watcher, None, WHO)
    assert first.outcome is ControlOutcome.STARTED and first.ok
    assert [p.pid for p in sims_in(remi(watcher).target.workdir)] == list(first.pids)
    again = await runbook.start(watcher, None, WHO)
    assert again.outcome is ControlOutcome.ALREADY_RUNNING and again.pids == first.pids


async def test_start_undoes_a_stop(watcher: Watcher) -> None:
    await started(watcher)
    await runbook.stop(watcher, None, WHO, "deploy")
    result = await runbook.start(watcher, None, WHO)
    assert result.outcome is ControlOutcome.STARTED
    assert persisted_state(watcher) != "stopped"


async def test_scan_test_is_recorded(watcher: Watcher) -> None:
    await asyncio.to_thread(remi(watcher).attach)
    result = await runbook.scan_test(watcher, None, WHO)
    assert result.outcome is ScanOutcome.PASSED
    assert watcher.store.last_scan("remi") == result


async def test_maintenance_has_an_end_and_ending_it_hands_back(watcher: Watcher) -> None:
    pid = await started(watcher)
    result = await runbook.maintenance(watcher, None, 3600, WHO, "moving hosts")
    assert result.state == "maintenance" and result.until is not None
    assert abs((result.until - watcher.clock.now()).total_seconds() - 3600) < 5
    assert persisted_state(watcher) == "maintenance"
    ended = await runbook.end_maintenance(watcher, None, WHO)
    assert ended.until is None and ended.state == "running" and ended.was_on
    assert "maintenance ended" in maintenance_text(ended)
    again = await runbook.end_maintenance(watcher, None, WHO)  # found none: says so
    assert not again.was_on and "was not in maintenance" in maintenance_text(again)
    assert [p.pid for p in sims_in(remi(watcher).target.workdir)] == [pid]
    with pytest.raises(ValueError, match="duration"):
        await runbook.maintenance(watcher, None, 0, WHO, "forever")


# ---------------------------------------------------------------------------- alerts


async def test_silence_is_kept_by_the_engine_and_survives_a_reload(watcher: Watcher) -> None:
    silence = await runbook.silence(watcher, {"target": "remi", "kind": "error_group"}, 7200,
                                    WHO, "noisy deploy")
    assert dict(silence.matchers) == {"target": "remi", "kind": "error_group"}
    assert (silence.ends_at - silence.starts_at).total_seconds() == 7200
    assert (await runbook.alerts(watcher)).silences == (silence,)
    reloaded = AlertHub.load(watcher.settings.alerts, watcher.outbox, watcher.store,
                             watcher.clock)
    assert reloaded.engine.silences(watcher.clock.now()) == [silence]
    with pytest.raises(ValueError, match="duration"):
        await runbook.silence(watcher, {"target": "remi"}, 30 * 86400, WHO, "too long")


async def test_health_of_a_bystander_only_looks(tmp_path: Path) -> None:
    """Without supervising (the CLI with no watcher), health acts on nothing, records
    nothing: a dead Remi is reported down, not started, and no history is written."""
    bystander = Watcher(sim_settings(tmp_path), console=None, environ={})
    try:
        result = await runbook.health(bystander, None)
        assert result.report.status is Status.DOWN
        assert sims_in(remi(bystander).target.workdir) == []
        assert bystander.store.history(datetime(1970, 1, 1, tzinfo=UTC)) == []
        assert bystander.store.get_state("supervisor:remi") is None
        assert not remi(bystander).target.health_file.exists()
    finally:
        bystander.close()


async def test_ack_names_who_and_an_unknown_ref_is_an_error(watcher: Watcher) -> None:
    """Nothing runs, so a check fires ``remi/down``; acking it stops its repeats."""
    await asyncio.to_thread(remi(watcher).attach)
    report = (await runbook.health(watcher, None)).report
    assert report.status is Status.DOWN
    await watcher.hub.commit()
    assert [str(a.key) for a in (await runbook.alerts(watcher)).firing] == ["remi/down"]
    [line] = await runbook.ack(watcher, "remi/down", WHO)
    assert line.ack_by == WHO
    with pytest.raises(UnknownAlert) as unknown:
        await runbook.ack(watcher, "remi/hang", WHO)
    assert unknown.value.ref == "remi/hang"


# ---------------------------------------------------------------------------- resolve


async def test_resolve_marks_a_group_fixed(watcher: Watcher) -> None:
    fingerprint = "c" * 16
    watcher.store.upsert_error_groups("remi", [group(fingerprint, watcher.clock.now())])
    resolution = await runbook.resolve(watcher, None, fingerprint, WHO)
    assert resolution.by == WHO and resolution.group.fingerprint == fingerprint
    assert resolution.group.resolved_at is not None
    with pytest.raises(UnknownErrorGroup) as unknown:
        await runbook.resolve(watcher, None, "d" * 16, WHO)
    assert unknown.value.fingerprint == "d" * 16


async def test_a_resolved_group_that_happens_again_is_a_regression(watcher: Watcher) -> None:
    """Remi logs the incident's NameError; it is resolved; it comes back: a new group again."""
    await started(watcher)
    workdir = remi(watcher).target.workdir

    async def check_until_seen() -> str:
        control(workdir, do="error")
        def seen() -> HealthReport | None:
            report = remi(watcher).check(CheckTrigger.OPERATOR)
            return report if report.new_groups else None

        report = await until(seen, what="the NameError as a new group")
        [fingerprint] = report.new_groups
        return str(fingerprint)

    first = await check_until_seen()
    await watcher.hub.commit()
    firing = {str(a.key) for a in (await runbook.alerts(watcher)).firing}
    assert f"remi/error_group/{first}" in firing
    resolved = (await runbook.resolve(watcher, None, first, WHO)).group.resolved_at
    assert resolved is not None
    firing = {str(a.key) for a in (await runbook.alerts(watcher)).firing}
    assert f"remi/error_group/{first}" not in firing  # its alert resolved with it
    # Remi's log stamps whole seconds: the next occurrence must be stamped after the fix
    await asyncio.sleep(1.05 - resolved.microsecond / 1e6)
    assert await check_until_seen() == first
    again = watcher.store.error_group("remi", first)
    assert again is not None and again.resolved_at is None and again.count >= 2


async def test_health_counts_restarts_and_the_crashes_among_them(watcher: Watcher) -> None:
    """'3 restarts (1 crash)': people's restarts are shown, but only crashes spend the
    budget; the tally survives the trip to the command line as JSON."""
    await started(watcher)
    now = watcher.clock.now()
    for trigger in (Trigger.OPERATOR, Trigger.POST_FIX, Trigger.CRASH):
        watcher.store.record_restart(RestartReport("remi", "x", trigger, WHO, True, now, 0.1))
    result = await runbook.health(watcher, None)
    assert (result.restarts.total, result.restarts.crashes) == (3, 1)
    assert "  3 restarts (1 crash) in the last 15 min" in health_lines(result.report, result)
    assert decode(HealthResult, jsonable(result)).restarts == result.restarts
