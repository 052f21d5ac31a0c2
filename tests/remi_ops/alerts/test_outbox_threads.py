"""The outbox's store work runs in threads of its own, never behind asyncio's shared pool."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from remi_ops.alerts.outbox import Outbox
from remi_ops.clock import FakeClock
from remi_ops.store.database import Store
from tests.remi_ops.alerts.test_outbox import (
    SETTINGS,
    RecordingSink,
    assert_exactly_once_in_order,
    lifecycle,
)


async def test_alerts_are_delivered_while_the_shared_pool_is_held(
        store: Store, clock: FakeClock) -> None:
    """An operator's slow restart holding every default-pool thread never holds an alert."""
    loop = asyncio.get_running_loop()
    shared = ThreadPoolExecutor(1)
    loop.set_default_executor(shared)
    release = threading.Event()
    holder = asyncio.ensure_future(asyncio.to_thread(release.wait, 30.0))
    sink = RecordingSink("discord")
    outbox = Outbox(store, [sink], clock, settings=SETTINGS)
    try:
        notes = lifecycle(clock)
        await asyncio.wait_for(outbox.in_thread(outbox.enqueue, notes), 10.0)
        report = await asyncio.wait_for(outbox.pump(), 10.0)
        assert report.delivered == len(notes) and not holder.done()
        assert_exactly_once_in_order(sink, notes)
    finally:
        release.set()
        await holder
        outbox.close()


async def test_close_lets_the_delivery_threads_go(store: Store, clock: FakeClock) -> None:
    def delivering() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith("remi-deliver")}

    others = delivering()  # another test's outbox in this worker, still closing: not ours
    outbox = Outbox(store, [RecordingSink("discord")], clock, settings=SETTINGS)
    outbox.enqueue(lifecycle(clock)[:1])
    assert (await outbox.pump()).delivered == 1
    assert delivering() - others
    outbox.close()
    for _ in range(100):
        if not delivering() - others:
            break
        await asyncio.sleep(0.05)
    assert not delivering() - others
