"""One target's wake-ups as a small record, not four sleeping coroutines.

What each of the target's loops in :mod:`remi_ops.watch.loops` decided in its coroutine
frame between wake-ups is kept here in slots, and each wake-up is an
:class:`~remi_ops.watch.timers.Alarm` or a callback: the death (a future of the shared
:class:`~remi_ops.host.exitwatch.ExitWatch`), a file change (the probe's ``Wake``), the
target's ``on_change``, a job's end. Work is a task only while it runs. What each part
keeps from its loop:

* **the periodic check**: at start, then ``check_interval_s`` after each one ended
  (``loops.periodic``), or up to the schedule's ``slack_s`` before if other wake-ups
  come then; batched with the checks due in the same turn;
* **the probe**: at start, on a change of its files (at most every ``CHANGE_MIN_GAP_S``),
  when the beacon would go stale, else a safety look ``safety_s`` after the later of
  its last run and the target's last check (``loops.on_change``);
* **the due actions**: when the earliest is due, or at once when the target says
  something changed, else after ``SAFETY_POLL_S`` (the due loop: ``loops.due_pass``);
* **the death**: handled at once in the deaths pool, a failed handling retried after
  ``exit_retry_delay`` (``loops.exit_waiter``); an error in any part is logged, a
  check's or a probe's also reported (``loops.guarded``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from remi_ops import host
from remi_ops.domain import CheckTrigger, ExitInfo, ProcessIdentity
from remi_ops.watch import loops
from remi_ops.watch.fileevents import Wake
from remi_ops.watch.target import TargetWatch

if TYPE_CHECKING:
    from remi_ops.watch.schedule import Schedule

log = logging.getLogger(__name__)
#: with file events, the probe's safety look comes only when no check looked at its files
#: for this many check intervals
SAFETY_INTERVALS = 1.5


class RingingEvent(asyncio.Event):
    """The probe's file-change event, which also calls back when it is set: the probe
    sleeps on no coroutine, and ``FileEvents`` still just sets its wake's event."""

    def __init__(self, ring: Callable[[], None]) -> None:
        super().__init__()
        self._ring = ring

    def set(self) -> None:
        if not self.is_set():
            super().set()
            self._ring()


class TargetTimers:
    """The state one target's check, probe, due actions and death handling need between
    wake-ups, and what each wake-up does."""

    __slots__ = ("began", "check_alarm", "check_ended", "due_again", "due_alarm", "due_task",
                 "exit_alarm", "exit_fut", "exit_ident", "exit_task", "failures", "in_gap",
                 "last_change", "probe_alarm", "probe_busy", "probe_deadline", "sched",
                 "shared_exits", "wake", "watch")

    def __init__(self, sched: Schedule, watch: TargetWatch, wake: Wake) -> None:
        self.sched, self.watch, self.wake = sched, watch, wake
        timers = sched.timers
        self.check_alarm = timers.alarm(self.check_due)
        self.check_alarm.slack_s = sched.slack_s  # a cadence: it may run with others
        self.check_ended = 0.0  # time.monotonic() when its last check ended
        self.probe_alarm = timers.alarm(self.probe_due)
        self.due_alarm = timers.alarm(self.look)
        self.exit_alarm = timers.alarm(self.exit_retry_due)
        wake.event = RingingEvent(self.file_changed)
        # the probe
        self.began = self.last_change = 0.0
        self.probe_busy = self.in_gap = False
        self.probe_deadline: float | None = None
        # the death
        self.exit_fut: asyncio.Future[ExitInfo] | None = None
        self.exit_ident: ProcessIdentity | None = None
        self.exit_task: asyncio.Task[None] | None = None
        self.failures = 0
        #: False: its manager names no real pid, and the old exit waiter awaits its deaths
        self.shared_exits = True
        # the due actions
        self.due_task: asyncio.Task[None] | None = None
        self.due_again = False

    def start(self, *, with_checks: bool) -> None:
        """As the loops began: the death awaited, the due actions looked at, a probe and
        the first check now."""
        self.look()
        self.last_change = self.sched.loop.time()
        self.run_probe()
        if with_checks:
            self.check_due()

    def stop(self) -> None:
        for alarm in (self.check_alarm, self.probe_alarm, self.due_alarm, self.exit_alarm):
            alarm.cancel()
        for task in (self.exit_task, self.due_task):
            if task is not None:
                task.cancel()
        if self.exit_fut is not None:
            self.exit_fut.cancel()

    def changed(self) -> None:
        """The target said something changed (``on_change``): its death and due actions."""
        self.look()

    def look(self) -> None:
        """What the exit waiter and the due loop did on each wake-up (the due alarm is
        also their safety look)."""
        if self.sched.stopped:
            return
        self.await_death()
        self.carry_out_due()

    # ------------------------------------------------------------------- the check

    def check_due(self) -> None:
        self.sched.submit(self.watch.name, self.timed_check, then=self.checked)

    def timed_check(self) -> None:
        """In a check thread: the check, and when it ended (its batch may run on)."""
        try:
            self.watch.check(CheckTrigger.SCHEDULE)
        finally:
            self.check_ended = time.monotonic()

    def checked(self, error: BaseException | None) -> None:
        """Due again ``check_interval_s`` after it ended, not after its batch did."""
        self.report(f"{self.watch.name}: check", error)
        if error is None:  # as before: the dead-man ping hears of the checks that ran
            self.sched.after_check()
        ended_ago = max(0.0, time.monotonic() - self.check_ended)
        self.check_alarm.after(self.sched.interval_s - ended_ago)

    # ------------------------------------------------------------------- the probe

    def run_probe(self) -> None:
        self.began = self.sched.loop.time()
        self.wake.event.clear()  # before the probe: a change during it runs it again
        self.probe_busy = True
        self.sched.submit(self.watch.name, self.watch.probe, then=self.probed)

    def probed(self, error: BaseException | None) -> None:
        self.probe_busy = False
        self.report(f"{self.watch.name}: probe", error)
        now = self.sched.loop.time()
        if self.wake.event.is_set():
            self.changed_files_at(now)
            return
        wait = self.safety_s()
        due: float | None = self.sched.beacon_stale_at(self.watch, self.last_change)
        if due is not None and due > now:
            wait = min(wait, due - now)
        else:
            due = None  # passed already: only a change starts its count again
        self.probe_deadline = due
        self.probe_alarm.at(now + wait)

    def safety_s(self) -> float:
        """How long the probe goes without a look when none of its files changed.

        Without file events it polls (``wake.poll_s``). With them, its safety look is for
        the change an event missed, and the periodic check is such a look (it reads the
        same logs and beacon): so the probe looks on its own only when no check did for
        ``SAFETY_INTERVALS`` intervals (a check stuck, the checks' scheduler stopped),
        not between two checks — at 200 idle targets a minute apart, that was as many
        thread hand-offs again as the checks themselves.
        """
        if not self.wake.watched:
            return self.wake.poll_s
        return max(self.wake.poll_s, SAFETY_INTERVALS * self.sched.interval_s)

    def file_changed(self) -> None:
        """One of the probe's files changed (its wake's event was set)."""
        if not self.probe_busy and not self.in_gap and not self.sched.stopped:
            self.changed_files_at(self.sched.loop.time())

    def changed_files_at(self, now: float) -> None:
        self.last_change = now
        self.in_gap = True
        self.probe_alarm.at(max(now, self.began + loops.CHANGE_MIN_GAP_S))

    def probe_due(self) -> None:
        """The gap after a change is over, the beacon would be stale, or the safety look
        is due — unless another look at the same files (a check) came since."""
        if self.in_gap:
            self.in_gap = False
            self.run_probe()
            return
        now, due = self.sched.loop.time(), self.probe_deadline
        if due is None or now < due:
            ago, safety = loops.checked_ago(self.watch), self.safety_s()
            if ago is not None and ago < safety:
                wait = safety - ago
                self.probe_alarm.at(now + (wait if due is None else min(wait, due - now)))
                return
        self.run_probe()

    # ------------------------------------------------------------------- the death

    def await_death(self) -> None:
        """Await the death of the process the supervisor has now (a change of process
        lets the old one go); nothing while its last death is being handled or a failed
        handling waits to be tried again."""
        if not self.shared_exits or self.exit_task is not None \
                or self.exit_alarm.when is not None:
            return
        ident = self.watch.supervisor.process
        if self.exit_fut is not None and self.exit_ident != ident:
            self.exit_fut.cancel()  # another process now (restart, stop): let it go
            self.exit_fut = None
        if ident is None or self.exit_fut is not None:
            return
        self.exit_ident = ident
        try:
            self.exit_fut = fut = self.sched.exits.exit_future(ident)
        except Exception:
            self.handling_failed()
            return
        fut.add_done_callback(self.died)

    def died(self, fut: asyncio.Future[ExitInfo]) -> None:
        if fut is not self.exit_fut or fut.cancelled() or self.sched.stopped:
            return
        self.exit_fut = None
        if self.exit_ident != self.watch.supervisor.process:
            self.look()  # an older process than the supervisor's now
            return
        self.exit_task = self.sched.spawn(self.handle_death(fut))

    async def handle_death(self, fut: asyncio.Future[ExitInfo]) -> None:
        manager = self.watch.manager
        try:
            info = fut.result()
            if isinstance(manager, host.BaseManager):
                info = await self.sched.pools.death(manager.exit_status, info)
            await self.sched.pools.death(self.watch.handle_exit, info)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.handling_failed()
        else:
            self.failures = 0
        finally:
            self.exit_task = None
        self.look()

    def handling_failed(self) -> None:
        """Logged (inside an ``except``), and tried again after a pause that doubles: a
        dead process is "exited" again at once, so without it the handling spins hot."""
        log.exception("waiting for or handling an exit failed",
                      extra={"target": self.watch.name})
        self.failures += 1
        self.exit_alarm.after(loops.exit_retry_delay(self.failures))

    def exit_retry_due(self) -> None:
        self.look()

    # ------------------------------------------------------------------- due actions

    def carry_out_due(self) -> None:
        """What is due now runs (a task while it does); then sleep until the next."""
        if self.due_task is not None:
            self.due_again = True  # looked at again once the running ones end
            return
        if loops.anything_due(self.watch):
            self.due_task = self.sched.spawn(self.due_actions())
            return
        self.sleep_until_due()

    def sleep_until_due(self) -> None:
        """Until the next due action, on time; or the safety look, with the others."""
        wait = loops.seconds_until_next_due(self.watch)
        self.due_alarm.slack_s = self.sched.slack_s if wait >= loops.SAFETY_POLL_S else 0.0
        self.due_alarm.after(wait)

    async def due_actions(self) -> None:
        watch, pools = self.watch, self.sched.pools
        try:
            await loops.due_pass(watch, pools)
        finally:
            self.due_task = None
        if self.due_again:
            self.due_again = False
            self.look()
        else:
            self.sleep_until_due()

    # ------------------------------------------------------------------- errors

    def report(self, name: str, error: BaseException | None) -> None:
        """As ``loops.guarded``: logged, and reported as an alert, never raised."""
        if error is None or isinstance(error, asyncio.CancelledError):
            return
        log.error("%s failed", name, exc_info=error, extra={"target": self.watch.name})
        self.sched.job_failed(name, error)

