"""Delivery through the durable outbox: retries, ordering, isolation of sinks, file sink."""

from __future__ import annotations

import asyncio
import io
import json
import random
from datetime import timedelta
from pathlib import Path

import pytest
from bubabot_local.simkit import sim_settings

from remi_ops.alerts.engine import AlertEngine
from remi_ops.alerts.local_sinks import ConsoleSink, FileSink
from remi_ops.alerts.model import AlertKey, Condition, Notification, NotificationType
from remi_ops.alerts.outbox import Outbox, SinkUnavailable
from remi_ops.clock import FakeClock
from remi_ops.config import AlertSettings
from remi_ops.domain import Severity
from remi_ops.store import outbox_rows
from remi_ops.store.database import Store
from remi_ops.watch.watcher import Watcher

SETTINGS = AlertSettings(group_wait_s=0.0, group_interval_s=0.0, keep_firing_for_s=0.0,
                         retry_initial_s=2.0, retry_max_s=60.0)


class RecordingSink:
    """Records deliveries; fails ``failures`` times, then is unavailable ``outages`` times."""

    def __init__(self, name: str, *, failures: int = 0, outages: int = 0,
                 retry_after: float | None = None, poison: str = "") -> None:
        self.name = name
        self.failures, self.outages, self.retry_after = failures, outages, retry_after
        self.poison = poison
        self.got: list[tuple[str, str, str | None]] = []  # (id, message_key, previous_ref)
        self.calls = 0

    async def deliver(self, n: Notification, previous_ref: str | None) -> str | None:
        self.calls += 1
        if self.outages:
            self.outages -= 1
            raise SinkUnavailable("429 Too Many Requests", self.retry_after)
        if self.failures:
            self.failures -= 1
            raise ConnectionResetError("connection reset by peer")
        if self.poison and n.message_key == self.poison:
            raise ValueError("cannot render this one")
        self.got.append((n.id, n.message_key, previous_ref))
        return f"msg-{n.message_key}"


def lifecycle(clock: FakeClock) -> list[Notification]:
    """Two targets: firing, an acknowledgement edit and a resolution each (6 notifications)."""
    engine = AlertEngine(SETTINGS)
    out: list[Notification] = []
    for target in ("remi", "bubabot"):
        engine.observe(clock.now(), target, [Condition(AlertKey(target, "down"), Severity.PAGE)])
    out += engine.flush(clock.now())
    for target in ("remi", "bubabot"):
        engine.ack(clock.now(), AlertKey(target, "down"), "ann")
    out += engine.flush(clock.now())
    for target in ("remi", "bubabot"):
        engine.observe(clock.now(), target, [])
    out += engine.flush(clock.now())
    assert [n.type for n in out] == [NotificationType.FIRING] * 2 + [
        NotificationType.UPDATE] * 2 + [NotificationType.RESOLVED] * 2
    return out


async def drain(outbox: Outbox, clock: FakeClock, rounds: int = 50) -> int:
    """Pump until nothing is due, moving the fake clock to each retry time."""
    for n in range(rounds):
        report = await outbox.pump()
        if report.next_due_s is None and not any(outbox.backlog().values()):
            return n
        clock.advance(max(report.next_due_s or 0.0, 0.0) + 0.001)
    raise AssertionError(f"not drained after {rounds} rounds: {outbox.backlog()}")


def assert_exactly_once_in_order(sink: RecordingSink, notes: list[Notification]) -> None:
    ids = [i for i, _, _ in sink.got]
    assert sorted(ids) == sorted(n.id for n in notes), "every notification exactly once"
    by_key: dict[str, list[str]] = {}
    for n in notes:
        by_key.setdefault(n.message_key, []).append(n.id)
    for key, expected in by_key.items():
        assert [i for i, k, _ in sink.got if k == key] == expected, "in order per message key"
    for _, key, previous in sink.got:  # the first gets no reference, later ones the post's
        first = next(i for i, k, _ in sink.got if k == key)
        assert previous == (None if _ == first else f"msg-{key}")


@pytest.mark.parametrize("sink", [
    RecordingSink("flaky", failures=3),
    RecordingSink("ratelimited", outages=2, retry_after=7.5),
    RecordingSink("down-then-flaky", outages=4, failures=2),
], ids=lambda s: s.name)
async def test_failing_sink_recovers_and_gets_everything_once_in_order(
        store: Store, clock: FakeClock, sink: RecordingSink) -> None:
    """Temporary failures are retried with backoff; nothing lost, nothing doubled."""
    notes = lifecycle(clock)
    outbox = Outbox(store, [sink], clock, settings=SETTINGS, rng=random.Random(7))
    assert outbox.enqueue(notes) == len(notes)
    await drain(outbox, clock)
    assert_exactly_once_in_order(sink, notes)
    assert outbox.backlog() == {sink.name: 0}
    delivered = store.query("SELECT count(*) FROM outbox WHERE state = 'delivered'")[0][0]
    assert delivered == len(notes)


async def test_retry_after_is_honoured(store: Store, clock: FakeClock) -> None:
    """A 429's retry_after is waited out exactly: no retry before, one right after."""
    sink = RecordingSink("discord", outages=1, retry_after=30.0)
    outbox = Outbox(store, [sink], clock, settings=SETTINGS)
    outbox.enqueue(lifecycle(clock)[:1])
    report = await outbox.pump()
    assert report.failed == 1 and report.next_due_s == pytest.approx(30.0)
    clock.advance(29.9)
    assert (await outbox.pump()).delivered == 0 and sink.calls == 1
    clock.advance(0.1)
    assert (await outbox.pump()).delivered == 1


async def test_backoff_grows_with_jitter_and_is_capped(store: Store, clock: FakeClock) -> None:
    """Waits double from retry_initial_s, jittered in [half, full], never above retry_max_s."""
    sink = RecordingSink("down", outages=100)
    outbox = Outbox(store, [sink], clock, settings=SETTINGS, rng=random.Random(3))
    outbox.enqueue(lifecycle(clock)[:1])
    waits = []
    for _ in range(8):
        waits.append((await outbox.pump()).next_due_s or 0.0)
        clock.advance(waits[-1])
    for n, wait in enumerate(waits):
        cap = min(60.0, 2.0 * 2**n)
        assert cap / 2 <= wait <= cap


async def test_one_sink_down_does_not_delay_another(store: Store, clock: FakeClock) -> None:
    """While one sink is unavailable the other delivers everything in the same pump."""
    down = RecordingSink("discord", outages=1000, retry_after=60.0)
    up = RecordingSink("file")
    notes = lifecycle(clock)
    outbox = Outbox(store, [down, up], clock, settings=SETTINGS)
    outbox.enqueue(notes)
    await outbox.pump()
    assert_exactly_once_in_order(up, notes)
    assert down.got == [] and down.calls == 1  # it is not hammered either
    assert outbox.backlog() == {"discord": len(notes), "file": 0}


async def test_hanging_sink_does_not_delay_another_in_the_run_loop(
        store: Store, clock: FakeClock) -> None:
    """With run(), each sink has its own loop; a sink that hangs only times itself out."""
    class Hanging:
        name = "hanging"

        async def deliver(self, n: Notification, previous_ref: str | None) -> str | None:
            await asyncio.Event().wait()
            return None

    up = RecordingSink("file")
    notes = lifecycle(clock)
    outbox = Outbox(store, [Hanging(), up], clock, settings=SETTINGS, deliver_timeout_s=5.0)
    outbox.enqueue(notes)
    stop = asyncio.Event()
    runner = asyncio.create_task(outbox.run(stop, idle_s=0.01))
    for _ in range(200):
        if len(up.got) == len(notes):
            break
        await asyncio.sleep(0.01)
    assert len(up.got) == len(notes)
    stop.set()
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner


async def test_poison_notification_blocks_only_its_message_then_is_dead_lettered(
        store: Store, clock: FakeClock) -> None:
    """A notification a sink always rejects never blocks other messages, and gives up."""
    notes = lifecycle(clock)
    poison = notes[0].message_key
    sink = RecordingSink("discord", poison=poison)
    outbox = Outbox(store, [sink], clock, settings=SETTINGS, dead_after=3,
                    rng=random.Random(1))
    outbox.enqueue(notes)
    await outbox.pump()
    assert {k for _, k, _ in sink.got} == {notes[1].message_key}
    await drain(outbox, clock)
    rows = store.query("SELECT state, count(*) FROM outbox GROUP BY state")
    states = {row[0]: row[1] for row in rows}
    assert states == {"dead": 3, "delivered": 3}


async def test_enqueue_is_idempotent_and_atomic_with_engine_state(
        store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """If saving the engine state fails, no rows are written; the next commit writes both."""
    engine = AlertEngine(SETTINGS)
    sink = RecordingSink("file")
    outbox = Outbox(store, [sink], clock, settings=SETTINGS)
    engine.observe(clock.now(), "remi", [Condition(AlertKey("remi", "down"))])

    def broken(*args: object) -> None:
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(outbox_rows, "save_alert_state_tx", broken)
        with pytest.raises(OSError, match="disk full"):
            await outbox.commit(engine)
    assert store.query("SELECT count(*) FROM outbox")[0][0] == 0
    assert store.load_alert_state() is None
    assert await outbox.commit(engine) == []  # nothing new, but the backlog is written now
    assert store.query("SELECT count(*) FROM outbox")[0][0] == 1
    assert store.load_alert_state() is not None
    await outbox.pump()
    assert len(sink.got) == 1
    notes = [Notification.from_dict(json.loads(r[0]))
             for r in store.query("SELECT payload FROM outbox")]
    assert outbox.enqueue(notes) == 0  # the same notification twice is one row


def test_sink_names_must_be_unique(store: Store, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="unique"):
        Outbox(store, [RecordingSink("a"), RecordingSink("a")], clock)


# ---------------------------------------------------------------------- file and console


async def test_file_sink_writes_seed_compatible_json_lines(tmp_path: Path,
                                                           clock: FakeClock) -> None:
    """ts/target/level/message like the old watchdog, plus the structured fields."""
    path = tmp_path / "remi" / ".bot_alert"
    sink = FileSink({"remi": path})
    notes = [n for n in lifecycle(clock) if n.target == "remi"]
    for n in notes:
        await sink.deliver(n, None)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["firing", "update", "resolved"]
    first = lines[0]
    assert first["target"] == "remi" and first["level"] == "critical"
    assert first["message"] == notes[0].title and first["ts"].startswith("2026-01-24T03:00")
    assert first["id"] == notes[0].id and first["alerts"][0]["key"] == "remi/down"
    assert lines[2]["level"] == "info"


async def test_file_sink_is_idempotent_by_notification_id(tmp_path: Path,
                                                          clock: FakeClock) -> None:
    """Delivering the same notification again (after a crash) writes nothing."""
    path = tmp_path / ".bot_alert"
    sink = FileSink({}, default=path, tail_bytes=4096)
    n = lifecycle(clock)[0]
    await sink.deliver(n, None)
    for _ in range(3):
        await sink.deliver(n, None)
    assert len(path.read_text().splitlines()) == 1


async def test_file_sink_never_glues_onto_a_torn_line(tmp_path: Path, clock: FakeClock) -> None:
    """A half-written line (power cut) stays apart; a torn copy of ours does not count."""
    path = tmp_path / ".bot_alert"
    n = lifecycle(clock)[0]
    torn = json.dumps({"id": n.id, "message": "x"})[:-5]
    path.write_text('{"ts": "old", "message": "from watchdog.sh"}\n' + torn)
    await FileSink({}, default=path).deliver(n, None)
    lines = path.read_text().splitlines()
    assert lines[1] == torn and json.loads(lines[2])["id"] == n.id


async def test_file_sink_without_a_path_for_the_target_fails_loudly(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="no alert file"):
        await FileSink({}).deliver(lifecycle(clock)[0], None)


async def test_console_sink_prints_one_line(clock: FakeClock) -> None:
    stream = io.StringIO()
    n = lifecycle(clock)[0]
    assert await ConsoleSink(stream).deliver(n, None) is None
    (line,) = stream.getvalue().splitlines()
    assert line.startswith("2026-01-24 03:00:00Z CRITICAL [firing] ")
    assert n.title in line


async def test_pump_pages_through_a_large_backlog(store: Store, clock: FakeClock) -> None:
    """More rows than one page are all delivered by one pump, still oldest first."""
    engine = AlertEngine(SETTINGS)
    for i in range(1200):
        engine.event(clock.now(), AlertKey(f"t{i}", "restart"), Severity.INFO, f"r{i}")
    notes = engine.flush(clock.now())
    sink = RecordingSink("file")
    outbox = Outbox(store, [sink], clock, settings=SETTINGS)
    outbox.enqueue(notes)
    assert (await outbox.pump()).delivered == 1200
    assert [i for i, _, _ in sink.got] == [n.id for n in notes]


async def test_keep_flushing_sends_when_group_wait_ends(store: Store, clock: FakeClock) -> None:
    """Checks come every minute, group wait is 30 s: a timer commits in between."""
    settings = AlertSettings(group_wait_s=30.0)
    engine = AlertEngine(settings)
    outbox = Outbox(store, [RecordingSink("file")], clock, settings=settings)
    engine.observe(clock.now(), "remi", [Condition(AlertKey("remi", "down"))])
    stop = asyncio.Event()
    flusher = asyncio.create_task(outbox.keep_flushing(engine, stop, idle_s=0.005))
    await asyncio.sleep(0.05)
    assert store.query("SELECT count(*) FROM outbox")[0][0] == 0
    assert engine.next_due(clock.now()) == clock.now() + timedelta(seconds=30)
    clock.advance(30)
    for _ in range(100):
        if store.query("SELECT count(*) FROM outbox")[0][0]:
            break
        await asyncio.sleep(0.005)
    stop.set()
    await flusher
    assert store.query("SELECT count(*) FROM outbox")[0][0] == 1
    assert engine.next_due(clock.now()) == clock.now() + timedelta(hours=4)  # the repeat


async def test_the_engine_prunes_delivered_notifications_but_keeps_pending(tmp_path: Path) -> None:
    """Delivered rows older than a week go; pending ones and message refs stay."""
    clock = FakeClock()
    engine = Watcher(sim_settings(tmp_path), clock=clock, console=None, environ={})
    try:
        rows = engine.store.query("SELECT count(*) AS n FROM outbox")[0]["n"]
        assert rows == 0
        engine.hub.engine.event(clock.now(), AlertKey("remi", "restart"), Severity.INFO, "x")
        await engine.hub.commit()
        await engine.outbox.pump()
        clock.advance(8 * 86400)
        engine.hub.engine.event(clock.now(), AlertKey("remi", "restart"), Severity.INFO, "y")
        await engine.hub.commit()  # delivered later: still pending now
        await engine.prune_outbox()
        states = [r["state"] for r in engine.store.query("SELECT state FROM outbox")]
        assert states and all(s == "pending" for s in states)
    finally:
        engine.close()


async def test_console_sink_lists_what_a_gathered_message_holds(clock: FakeClock) -> None:
    """Found using ``remi-ops watch``: "[event] remi: 2 events (operator_action, scan_test)"
    said nothing of what happened; each gathered line now follows, indented."""
    engine = AlertEngine(SETTINGS)
    engine.event(clock.now(), AlertKey("remi", "operator_action"), Severity.INFO,
                 "cli:alice: stop of remi")
    engine.event(clock.now(), AlertKey("remi", "scan_test"), Severity.INFO,
                 "/scan test passed in 0.1s")
    (n,) = engine.flush(clock.now())
    stream = io.StringIO()
    await ConsoleSink(stream).deliver(n, None)
    head, *lines = stream.getvalue().splitlines()
    assert "2 events" in head
    assert any("cli:alice: stop of remi" in line for line in lines)
    assert any("/scan test passed in 0.1s" in line for line in lines)
