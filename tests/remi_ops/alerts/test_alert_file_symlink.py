"""A symlink planted at ``.bot_alert`` is refused: its target untouched, the alert still out."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from remi_ops.alerts.engine import AlertEngine
from remi_ops.alerts.local_sinks import FileSink
from remi_ops.alerts.model import AlertKey, Condition, Notification
from remi_ops.alerts.outbox import Outbox
from remi_ops.clock import FakeClock
from remi_ops.config import AlertSettings
from remi_ops.domain import Severity
from remi_ops.store.database import Store

SETTINGS = AlertSettings(group_wait_s=0.0, group_interval_s=0.0, keep_firing_for_s=0.0)


class Recorder:
    """Stands in for the Discord sink: what reached it."""

    name = "discord"

    def __init__(self) -> None:
        self.got: list[str] = []

    async def deliver(self, n: Notification, previous_ref: str | None) -> str | None:
        del previous_ref
        self.got.append(n.id)
        return n.id


def down_and_back(clock: FakeClock) -> list[Notification]:
    engine = AlertEngine(SETTINGS)
    engine.observe(clock.now(), "remi", [Condition(AlertKey("remi", "down"), Severity.PAGE)])
    out = engine.flush(clock.now())
    engine.observe(clock.now(), "remi", [])
    return out + engine.flush(clock.now())


def planted_link(tmp_path: Path) -> tuple[Path, Path]:
    victim = tmp_path / "victim" / "authorized_keys"
    victim.parent.mkdir()
    victim.write_text("ssh-ed25519 AAAA precious\n", encoding="utf-8")
    alert_file = tmp_path / "remi" / ".bot_alert"
    alert_file.parent.mkdir()
    alert_file.symlink_to(victim)
    return alert_file, victim


async def test_the_link_target_is_untouched_and_discord_still_gets_the_alert(
        tmp_path: Path, store: Store, clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    """Nothing is appended through the link; one clear error line; the other sink delivers."""
    alert_file, victim = planted_link(tmp_path)
    discord = Recorder()
    outbox = Outbox(store, [FileSink({"remi": alert_file}), discord], clock, settings=SETTINGS)
    notes = down_and_back(clock)
    with caplog.at_level(logging.ERROR):
        outbox.enqueue(notes)
        await outbox.pump()
    assert victim.read_text(encoding="utf-8") == "ssh-ed25519 AAAA precious\n"
    assert alert_file.is_symlink()
    assert discord.got == [n.id for n in notes]
    refusals = [r.getMessage() for r in caplog.records if "is a symlink" in r.getMessage()]
    assert len(refusals) == 1, refusals  # logged once, not once per notification
    assert str(alert_file) in refusals[0] and "remove the link" in refusals[0]
    assert not any(outbox.backlog().values())  # no retry storm against the link


async def test_once_the_link_is_gone_alerts_land_in_the_file_again(
        tmp_path: Path, clock: FakeClock) -> None:
    """The refusal is about the link, not the sink: a real file is written as before."""
    alert_file, victim = planted_link(tmp_path)
    sink = FileSink({"remi": alert_file})
    first, second = down_and_back(clock)
    await sink.deliver(first, None)
    assert victim.read_text(encoding="utf-8") == "ssh-ed25519 AAAA precious\n"
    alert_file.unlink()
    await sink.deliver(second, None)
    assert second.id in alert_file.read_text(encoding="utf-8")
    assert first.id not in alert_file.read_text(encoding="utf-8")
