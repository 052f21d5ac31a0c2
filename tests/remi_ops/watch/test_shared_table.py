"""Thirty real sleepers under one Watcher, every check of a round at once: the checks
share one pass over the process table (not one each), every target still finds its own
Remi and no false duplicate, and a copy started by hand while a round runs is reported
by the next round — and left running, for a human."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest
from bubabot_local.simkit import kill_leftovers, start_by_hand

from remi_ops.domain import Check, CheckTrigger
from remi_ops.host import proctable
from remi_ops.host.proctable import ProcessTable
from remi_ops.testing import running, wait_until_async
from remi_ops.watch.target import TargetWatch
from remi_ops.watch.watcher import Watcher
from tests.remi_ops.host.test_proctable import passes
from tests.remi_ops.watch.test_many_targets import sleepers_watcher

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TARGETS = 30
SLEEP = shutil.which("sleep") or "/bin/sleep"
UP_S = 60.0
__all__ = ["passes"]  # the fixture: every pass over the process table from now on


@pytest.fixture
async def watcher(tmp_path: Path) -> AsyncIterator[Watcher]:
    # checks minutes apart: the watcher's own periodic round (and its passes) never
    # comes during the test's rounds, however long a loaded machine takes to settle
    watcher = sleepers_watcher(tmp_path, TARGETS, interval_s=170)
    try:
        async with running(watcher):
            yield watcher
    finally:
        kill_leftovers(tmp_path)


def settled(watch: TargetWatch) -> bool:
    """Its first check and its recheck after the start are done."""
    return watch.last_report is not None and watch.recheck_due_mono is None


async def check_round(watcher: Watcher) -> dict[str, set[Check]]:
    """Every target checked at once, as a round that comes due together: their findings."""
    names = list(watcher.watches)
    reports = await asyncio.gather(*(watcher.check(n, CheckTrigger.SCHEDULE) for n in names))
    return {n: {f.check for f in r.findings} for n, r in zip(names, reports, strict=True)}


async def test_a_round_of_checks_shares_the_process_table_and_sees_a_new_copy_next_round(
        watcher: Watcher, passes: list[ProcessTable], tmp_path: Path) -> None:
    await wait_until_async(lambda: all(settled(w) for w in watcher.watches.values()),
                           UP_S, "every target's first checks")
    remis = {name: w.supervisor.process for name, w in watcher.watches.items()}
    table_age = proctable._SHARED.max_age_s
    assert table_age == 15.0  # a quarter of the interval, at most 15 s: a few passes a round
    await asyncio.sleep(table_age + 0.1)  # whatever the start-up looked at is stale now
    passes.clear()

    first = asyncio.create_task(check_round(watcher))
    await asyncio.sleep(0)  # the round has begun
    copy = await asyncio.to_thread(start_by_hand, tmp_path / "remi07", SLEEP, "600")
    findings = await first
    # remi07's check in this round may or may not have seen the copy; no other has one
    assert [n for n, found in findings.items()
            if Check.DUPLICATES in found and n != "remi07"] == [], findings
    # one pass serves the round (a slow machine may spread it over a few seconds)
    assert 1 <= len(passes) <= TARGETS // 5, len(passes)

    await asyncio.sleep(table_age + 0.1)  # the next round: a table taken after the copy
    findings = await check_round(watcher)
    assert [n for n, found in findings.items() if Check.DUPLICATES in found] == ["remi07"]
    assert {n: w.supervisor.process for n, w in watcher.watches.items()} == remis
    assert psutil.Process(copy).status() != psutil.STATUS_ZOMBIE  # left for a human
