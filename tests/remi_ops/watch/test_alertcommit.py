"""The alert commit runs when an input arrives or an engine timer is due, not every
second (a real SQLite store; the engine's own clock is real here)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from remi_ops.alerts.hub import AlertHub
from remi_ops.alerts.local_sinks import ConsoleSink
from remi_ops.alerts.outbox import Outbox
from remi_ops.clock import SystemClock
from remi_ops.config import AlertSettings
from remi_ops.domain import Event, EventKind, Severity
from remi_ops.store.database import Store
from remi_ops.watch import alertcommit
from tests.remi_ops.watch.test_fileevents import until


def rows(store: Store) -> int:
    return int(store.query("SELECT COUNT(*) FROM outbox")[0][0])


def a_hub(tmp_path: Path) -> tuple[SystemClock, Store, AlertHub]:
    """An alert hub over a real store file, delivering to a console sink at once."""
    clock = SystemClock()
    store = Store.open(tmp_path / "state.sqlite3", clock)
    settings = AlertSettings(group_wait_s=0)
    outbox = Outbox(store, [ConsoleSink(io.StringIO())], clock, settings=settings)
    return clock, store, AlertHub.load(settings, outbox, store, clock)


def counted_commits(hub: AlertHub) -> list[int]:
    """A list that grows by one at each of ``hub``'s commits from now on."""
    commits: list[int] = []
    real = hub.commit

    async def counted() -> object:
        commits.append(1)
        return await real()

    hub.commit = counted  # type: ignore[method-assign,assignment]
    return commits


async def test_an_event_is_committed_at_once_and_idle_commits_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alertcommit, "SAFETY_POLL_S", 3600.0)
    clock, store, hub = a_hub(tmp_path)
    commits = counted_commits(hub)
    stopping = asyncio.Event()
    task = asyncio.create_task(alertcommit.commit_when_due(hub, stopping))
    try:
        await until(lambda: len(commits) == 1)
        await asyncio.sleep(2.5)
        assert len(commits) == 1  # idle: no commit (it used to be one a second)
        hub.event(Event("remi", EventKind.RESTART, clock.now(), Severity.WARNING,
                        "restarted after a crash"))
        await until(lambda: rows(store) == 1)  # enqueued for delivery, no poll waited for
    finally:
        stopping.set()
        await asyncio.wait_for(task, 10)
        store.close()


async def test_inputs_between_two_commits_wake_the_loop_once_and_all_are_committed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twenty checks' inputs from their threads within a commit gap: one wake-up of the
    loop (it used to be one each), and every one of them committed."""
    monkeypatch.setattr(alertcommit, "SAFETY_POLL_S", 3600.0)
    clock, store, hub = a_hub(tmp_path)
    loop = asyncio.get_running_loop()
    wakes: list[object] = []
    handing_over = loop.call_soon_threadsafe

    def seen(callback: Callable[..., object], *args: Any, **kwargs: Any) -> asyncio.Handle:
        if isinstance(getattr(callback, "__self__", None), asyncio.Event):
            wakes.append(callback)  # a nudge of the commit loop (not a thread's result)
        return handing_over(callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_soon_threadsafe", seen)
    stopping = asyncio.Event()
    task = asyncio.create_task(alertcommit.commit_when_due(hub, stopping))
    try:
        await until(lambda: store.load_alert_state() is not None)  # the first commit
        def twenty_checks() -> None:
            for i in range(20):
                hub.event(Event(f"remi{i}", EventKind.RESTART, clock.now(), Severity.WARNING,
                                "restarted after a crash"))

        commits = counted_commits(hub)
        await asyncio.to_thread(twenty_checks)
        await until(lambda: rows(store) == 20)
        # one wake-up per commit that took them (at most one more, still on its way), not
        # one per input: on a machine so busy that the thread's twenty hand-overs straddle
        # several commits, still one each
        assert 1 <= len(wakes) <= len(commits) + 1 < 20
    finally:
        stopping.set()
        await asyncio.wait_for(task, 10)
        hub.outbox.close()
        store.close()
