"""Bubabot measures its own event-loop lag the way the beacon measures Remi's."""

from __future__ import annotations

import asyncio
import time

import pytest

from bubabot.looplag import LoopLagMonitor


async def test_a_blocked_loop_shows_up_as_lag() -> None:
    """A synchronous sleep on the loop (the Remi incident in small) is measured."""
    monitor = LoopLagMonitor(interval_s=0.02)
    monitor.start()
    await asyncio.sleep(0.05)
    time.sleep(0.2)  # blocking the loop on purpose: the Remi incident in small
    await asyncio.sleep(0.05)
    await monitor.stop()
    last, worst = monitor.reading()
    assert worst >= 0.15 and worst >= last >= 0
    assert not monitor.running


async def test_an_idle_loop_has_little_lag() -> None:
    monitor = LoopLagMonitor(interval_s=0.01)
    monitor.start()
    monitor.start()  # idempotent
    await asyncio.sleep(0.1)
    await monitor.stop()
    assert monitor.samples >= 3 and monitor.max_s < 0.1


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        LoopLagMonitor(interval_s=0)
