"""The engine's state survives a restart: through a real store file and through dicts."""

from __future__ import annotations

from pathlib import Path

from bubabot_local.alertkit import Harness, T, cond, summary

from remi_ops.alerts.engine import AlertEngine
from remi_ops.alerts.model import AlertKey
from remi_ops.alerts.outbox import Outbox
from remi_ops.store.database import Store

# ---------------------------------------------------------------------- restart of the watcher


def _saved_engine(store: Store, h: Harness) -> AlertEngine:
    state = store.load_alert_state()
    assert state is not None
    return AlertEngine.from_dict(state, h.settings, new_id=h.new_id)


async def test_watcher_restart_announces_nothing_again_and_repeat_timer_continues(
        tmp_path: Path) -> None:
    """Through a real store file: firing stays firing, not re-sent; repeat keeps its schedule."""
    h = Harness(repeat_interval_s=4 * 3600.0)
    store = Store.open(tmp_path / "state.db", h.clock)
    outbox = Outbox(store, [], h.clock, settings=h.settings)
    h.engine.observe(h.clock.now(), T, [cond("down"), cond("error_group", "fp1", count=1)])
    h.clock.advance(30)
    first = await outbox.commit(h.engine)
    assert summary(first) == [("firing", ["down"])]  # the error group is inhibited
    h.clock.advance(3600)
    store.close()

    store = Store.open(tmp_path / "state.db", h.clock)
    outbox = Outbox(store, [], h.clock, settings=h.settings)
    h.engine = _saved_engine(store, h)
    h.engine.observe(h.clock.now(), T, [cond("down"), cond("error_group", "fp1", count=2)])
    assert await outbox.commit(h.engine) == []
    h.clock.advance(3 * 3600 - 1)
    assert await outbox.commit(h.engine) == []
    h.clock.advance(1)
    assert summary(await outbox.commit(h.engine)) == [("repeat", ["down"])]

    store.close()
    store = Store.open(tmp_path / "state.db", h.clock)
    h.engine = _saved_engine(store, h)
    outbox = Outbox(store, [], h.clock, settings=h.settings)
    h.engine.observe(h.clock.now(), T, [])
    resolved = await outbox.commit(h.engine)
    assert summary(resolved) == [("resolved", ["down"]), ("firing", ["error_group/fp1"])]
    assert resolved[0].message_key == first[0].message_key
    store.close()


def test_to_dict_round_trip_is_lossless() -> None:
    """Serialising and loading in the middle of everything changes nothing that follows."""
    a, b = Harness(keep_firing_for_s=120.0), Harness(keep_firing_for_s=120.0)
    for h in (a, b):
        h.engine.silence(h.clock.now(), {"kind": "scan_test"}, 3600, "ann", "flaky")
        h.check(cond("down"), cond("scan_test"), cond("error_group", "x", count=3))
        h.wait(30)
        h.engine.ack(h.clock.now(), AlertKey(T, "down"), "ann")
        h.clock.advance(30)
        h.check(cond("error_group", "x", count=4))
    b.engine = AlertEngine.from_dict(b.engine.to_dict(), b.settings, new_id=b.new_id)
    for h in (a, b):
        h.wait(200)
        h.check(cond("error_group", "x", count=9))
        h.wait(400)
    assert [n.to_dict() | {"id": ""} for n in a.sent] == [n.to_dict() | {"id": ""} for n in b.sent]
    assert a.engine.to_dict() == b.engine.to_dict()
