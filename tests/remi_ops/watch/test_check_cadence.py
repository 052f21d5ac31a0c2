"""A target's periodic check is due ``check_interval_s`` after it ended, not after its
batch did (the scheduler's real timers on a real asyncio loop; the batch's latency and the
target are hand-written stand-ins)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from remi_ops.domain import CheckTrigger
from remi_ops.watch.fileevents import Wake
from remi_ops.watch.target_timers import TargetTimers
from remi_ops.watch.timers import Timers
from tests.remi_ops.watch.test_probe_after_check import Sched, Target

INTERVAL_S = 0.5
#: how long after a check ended its batch hands its result back (others ran after it)
BATCH_TAIL_S = 0.3


class Checked(Target):
    def __init__(self) -> None:
        super().__init__(looked_ago=lambda: None)
        self.began: list[float] = []

    def check(self, trigger: CheckTrigger = CheckTrigger.SCHEDULE) -> None:
        self.began.append(asyncio.get_running_loop().time())


class SlowBatch(Sched):
    """Runs a job at once, hands its result back ``BATCH_TAIL_S`` later."""

    def submit(self, lane: str, fn: Callable[..., object], *args: object,
               then: Callable[[BaseException | None], None]) -> None:
        fn(*args)
        self.loop.call_later(BATCH_TAIL_S, then, None)

    def after_check(self) -> None:
        pass


async def test_a_check_is_due_an_interval_after_it_ended() -> None:
    target = Checked()
    sched = SlowBatch(lambda last: last + 3600, INTERVAL_S)
    sched.timers = Timers(sched.loop)
    record = TargetTimers(sched, target, Wake())  # type: ignore[arg-type]  # stand-ins
    record.check_due()
    await asyncio.sleep(INTERVAL_S * 3 + BATCH_TAIL_S)
    sched.stopped = True
    sched.timers.close()
    gaps = [b - a for a, b in zip(target.began, target.began[1:], strict=False)]
    assert len(gaps) >= 2
    assert all(INTERVAL_S - 0.02 <= gap < INTERVAL_S + BATCH_TAIL_S / 2 for gap in gaps), gaps
