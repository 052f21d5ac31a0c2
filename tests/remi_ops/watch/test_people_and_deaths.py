"""A watch's budget counts crashes, not people; deaths are named; holds are announced once;
the exit waiter never spins (``FakeProcessManager`` + ``FakeClock``)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from remi_ops.domain import EventKind, ExitInfo, ProcessIdentity, RestartReport, Trigger
from remi_ops.supervision.supervisor import State
from remi_ops.watch.loops import exit_waiter
from tests.remi_ops.watch.test_policy import Rig, build, running, state


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from build(tmp_path)


def test_people_restarting_never_ends_in_gave_up_and_a_crash_still_restarts_at_once(
        rig: Rig) -> None:
    """Five restarts asked for in ten minutes (budget 3): never gave_up; then a real crash
    is restarted immediately, not after a backoff."""
    running(rig)
    for _ in range(5):
        assert rig.watch.restart("discord:ana", "looks stuck").ok
        rig.clock.advance(120)
        rig.watch.tick()
    assert state(rig) is not State.GAVE_UP
    starts = rig.fake.names().count("start")
    rig.watch.handle_exit(rig.fake.crash(signal=signal.SIGKILL, returncode=-9))
    assert rig.fake.names().count("start") == starts + 1
    last = rig.restarts()[-1]
    assert last.trigger is Trigger.CRASH and last.reason.startswith("killed by SIGKILL")


def test_the_budget_is_seeded_with_crash_restarts_only(rig: Rig) -> None:
    """After a watcher restart, people's restarts in the store do not count as crashes."""
    now = rig.clock.now()
    for trigger in (Trigger.OPERATOR, Trigger.OPERATOR, Trigger.POST_FIX, Trigger.CRASH):
        rig.store.record_restart(RestartReport("remi", "x", trigger, "ana", True, now, 0.1))
    running(rig)
    assert len(rig.watch.supervisor.restarts_mono) == 1


def test_an_adopted_remi_that_dies_reads_exit_status_unknown_and_is_restarted(
        rig: Rig) -> None:
    """Not our child: the code is unknown, so it is a crash, never a do-not-restart code."""
    running(rig)
    rig.watch.handle_exit(rig.fake.crash(returncode=None))
    [restart] = rig.restarts()
    assert restart.ok and restart.reason.startswith("exit status unknown")
    assert state(rig) is State.STARTING


def test_a_watcher_starting_with_a_stop_in_force_says_so_once(rig: Rig) -> None:
    running(rig)
    rig.watch.stop("cli:ana", "deploy")
    rig.notes.events.clear()
    rig.watch.supervisor = type(rig.watch.supervisor)("remi", rig.watch.target.restart)
    rig.watch.hands.supervisor = rig.watch.supervisor
    rig.watch.startup()
    held = [e for e in rig.notes.events if e.kind is EventKind.HOLD_KEPT]
    assert len(held) == 1 and "stays stopped" in held[0].summary and "deploy" in held[0].summary
    assert rig.fake.names().count("start") == 0


class DeadProcess:
    """A process that is dead: like the real seam, every wait reports its exit at once."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig

    def wait_exit(self, ident: ProcessIdentity, timeout: float | None,
                  cancel: object = None) -> ExitInfo:
        return ExitInfo(ident.pid, 1, None, self.rig.clock.now())


async def test_the_exit_waiter_backs_off_after_a_failed_handling(rig: Rig) -> None:
    """A handling that raises is retried after a pause, not at once forever."""
    running(rig)
    calls: list[float] = []

    def broken(info: ExitInfo) -> None:
        calls.append(time.monotonic())
        raise OSError("disk full")

    rig.watch.handle_exit = broken  # type: ignore[method-assign]
    rig.watch.manager = DeadProcess(rig)  # type: ignore[assignment]
    stopping = asyncio.Event()
    task = asyncio.create_task(exit_waiter(rig.watch, stopping))
    await asyncio.sleep(2.0)
    stopping.set()
    await asyncio.wait_for(task, 5)
    assert 1 <= len(calls) <= 4  # 0.5 s, 1 s, 2 s … between tries (hot: thousands)
