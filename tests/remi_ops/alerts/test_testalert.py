"""The test alert: straight to every sink, each one's answer reported, nothing left behind."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from bubabot_local.simkit import sim_settings

from remi_ops.alerts.model import Notification, NotificationType
from remi_ops.alerts.outbox import SinkUnavailable
from remi_ops.alerts.testalert import report_lines, send_test_alert
from remi_ops.domain import Severity
from remi_ops.watch.watcher import Watcher


class LimitedSink:
    """Rate limited ``limits`` times for ``retry_after`` seconds, then delivers."""

    def __init__(self, name: str, limits: int, retry_after: float) -> None:
        self.name, self.limits, self.retry_after = name, limits, retry_after
        self.got: list[Notification] = []

    async def deliver(self, n: Notification, previous_ref: str | None) -> str | None:
        if self.limits:
            self.limits -= 1
            raise SinkUnavailable("429", retry_after=self.retry_after)
        self.got.append(n)
        return "m1"


class HangingSink:
    name = "hanging"

    async def deliver(self, n: Notification, previous_ref: str | None) -> str | None:
        await asyncio.sleep(3600)
        return None


async def test_every_sink_answers_and_nothing_goes_through_the_outbox(tmp_path: Path) -> None:
    short, long = LimitedSink("short", 2, 0.05), LimitedSink("long", 1, 3600)
    console = io.StringIO()
    watcher = Watcher(sim_settings(tmp_path), console=console, environ={},
                      extra_sinks=[short, long, HangingSink()])
    try:
        report = await send_test_alert(watcher.outbox, "remi", "cli:ana", within_s=1.0)
        rows = watcher.store.query("SELECT count(*) FROM outbox")[0][0]
    finally:
        watcher.close()
    by_sink = {d.sink: d for d in report.deliveries}
    assert by_sink["file"].delivered and by_sink["console"].delivered
    assert by_sink["short"].delivered and by_sink["short"].ref == "m1"  # 429s waited out
    assert not by_sink["long"].delivered and by_sink["long"].reason == "429"
    assert by_sink["hanging"].reason == "no answer within 1s" and not report.ok
    [n] = short.got
    assert (n.type, n.severity, n.alerts) == (NotificationType.EVENT, Severity.INFO, ())
    assert n.title.startswith("TEST — this is a test alert from cli:ana on ")
    assert "TEST" in console.getvalue() and rows == 0
    assert report_lines(report)[-1] == "2 of 5 sink(s) did not deliver it"
    assert "  long: NOT delivered: 429" in report_lines(report)


async def test_a_sink_another_process_delivers_is_reported_not_delivered(
        tmp_path: Path) -> None:
    watcher = Watcher(sim_settings(tmp_path), console=None, environ={})
    watcher.outbox.deferred_sinks = ("discord",)
    try:
        report = await send_test_alert(watcher.outbox, "remi", "cli:ana")
    finally:
        watcher.close()
    assert [(d.sink, d.delivered) for d in report.deliveries] == [("file", True),
                                                                  ("discord", False)]
    assert report.summary() == "test alert NOT delivered by discord"
