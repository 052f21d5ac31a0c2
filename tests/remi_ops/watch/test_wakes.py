"""A check with nothing to do does not wake its target's loops (the exit waiter, the due
loop); whatever changes what they wait on — a restart, a death, a backoff — still does."""

from __future__ import annotations

from tests.remi_ops.watch.test_restart_count import Rig, rig

__all__ = ["rig"]  # the fixture: one watch of a fake process, a fake clock, a real store


def test_a_quiet_check_wakes_no_loop(rig: Rig) -> None:
    wakes: list[str] = []
    rig.watch.on_change = lambda: wakes.append("woken")
    rig.count()
    wakes.clear()
    for _ in range(5):
        rig.count()
    assert wakes == []


def test_a_restart_a_death_and_a_backoff_wake_them(rig: Rig) -> None:
    wakes: list[str] = []
    rig.watch.on_change = lambda: wakes.append("woken")
    rig.count()
    wakes.clear()
    rig.watch.restart("ana", "stuck")  # a new process to wait on, a recheck due
    assert wakes
    wakes.clear()
    rig.clock.advance(5)
    rig.watch.handle_exit(rig.fake.crash())  # gone: a backoff retry is due
    assert wakes
    wakes.clear()
    rig.clock.advance(120)
    rig.watch.tick()  # the retry: started again
    assert wakes
    assert rig.fake.names().count("start") == 2
