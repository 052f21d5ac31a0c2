"""What still stands against a target between checks, read from a real store."""

from __future__ import annotations

from dataclasses import replace

from remi_ops.alerts.model import AlertKey
from remi_ops.alerts.rules import AlertRecord, Phase
from remi_ops.checks.health import HealthAssessor, Observation
from remi_ops.checks.standing import firing_alerts, standing_of
from remi_ops.clock import FakeClock
from remi_ops.config import HealthSettings
from remi_ops.domain import Check, Status
from remi_ops.store.database import Store


def save_alerts(store: Store, *records: AlertRecord) -> None:
    store.save_alert_state({"version": 1}, [(str(r.key), r.key.target, r.to_dict())
                                            for r in records], [])


def firing(kind: str, summary: str, target: str = "remi", fingerprint: str = "") -> AlertRecord:
    return AlertRecord(AlertKey(target, kind, fingerprint), id=kind, phase=Phase.FIRING,
                       summary=summary, raw=True)


def test_a_firing_alert_no_check_can_see_keeps_health_from_saying_healthy(
        store: Store, clock: FakeClock) -> None:
    """"Gave up" still firing is news; a hang kept firing after its restart, an error group
    (recent errors stand for it) and another target's alert are not."""
    save_alerts(store, firing("gave_up", "restart budget spent"),
                firing("hang", "event loop blocked for 75s"),
                firing("error_group", "NameError", fingerprint="abc"),
                firing("gave_up", "not ours", target="other"),
                # over, kept firing only so that "resolved" is not sent too early
                replace(firing("gave_up", "over", fingerprint="x"), raw=False),
                replace(firing("duplicate", "x"), phase=Phase.RESOLVED))
    assert [(a.kind, a.summary) for a in firing_alerts(store, "remi")] == [
        ("gave_up", "restart budget spent")]
    report = HealthAssessor(HealthSettings()).assess(Observation(
        target="remi", at=clock.now(), supervisor_state="running", expected_alive=True,
        process=None, standing=standing_of(store, "remi", clock.now(), 600, None)))
    assert report.status is Status.DOWN  # not running, and:
    assert [f.summary for f in report.findings if f.check is Check.ALERT_FIRING] == [
        "alert still firing: gave_up: restart budget spent"]
