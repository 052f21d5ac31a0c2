"""Which buttons an alert message carries, and that their custom_ids fit Discord's limits."""

from __future__ import annotations

import dataclasses

from bubabot_local.emulator_limits import component_problems
from bubabot_local.harness import NOW, firing_line

from bubabot.views import ALERT_BUTTONS, AckButton, ack_refs, alert_view
from remi_ops.alerts.model import AlertKey, LineState, Notification, NotificationType
from remi_ops.domain import Severity

HEX_KEY = "0f" * 16


def notify(kind: NotificationType = NotificationType.FIRING, *, message_key: str = HEX_KEY,
           target: str = "remi", states: tuple[LineState, ...] = (LineState.FIRING,),
           details: dict[str, object] | None = None) -> Notification:
    alerts = tuple(dataclasses.replace(firing_line(f"k{i}", target), state=s,
                                       alert_id=f"{i:012x}", key=AlertKey(target, f"k{i}"))
                   for i, s in enumerate(states))
    return Notification(id="n", type=kind, group_key=f"{target}:health", target=target,
                        message_key=message_key, thread_key="t", severity=Severity.PAGE,
                        title="t", lines=(), alerts=alerts, created_at=NOW,
                        details=details or {})


def custom_ids(n: Notification) -> list[str]:
    view = alert_view(n)
    return [] if view is None else [str(c["custom_id"]) for row in view.to_components()
                                    for c in row["components"]]


async def test_firing_alert_has_the_runbook_buttons() -> None:
    assert custom_ids(notify()) == [f"bubabot:ack:{HEX_KEY}", "bubabot:silence1h:remi:k0",
                                    "bubabot:errors:remi", "bubabot:scan:remi",
                                    "bubabot:restart:remi"]


async def test_resolved_alert_keeps_only_errors() -> None:
    assert custom_ids(notify(NotificationType.RESOLVED, states=(LineState.RESOLVED,))) == \
        ["bubabot:errors:remi"]


async def test_event_has_no_ack_and_no_restart() -> None:
    assert custom_ids(notify(NotificationType.EVENT, states=(LineState.EVENT,))) == \
        ["bubabot:errors:remi", "bubabot:scan:remi"]


async def test_a_target_that_cannot_be_a_custom_id_gets_no_target_buttons() -> None:
    assert custom_ids(notify(target="Remi Prod")) == [f"bubabot:ack:{HEX_KEY}"]


async def test_longest_names_fit_discords_component_limits() -> None:
    """A 32-character target and a 40-character kind still make valid custom_ids."""
    target, kind = "r" * 32, "k" * 40
    n = notify(target=target, states=(LineState.FIRING,) * 20)
    n = dataclasses.replace(n, alerts=tuple(dataclasses.replace(a, key=AlertKey(target, kind))
                                            for a in n.alerts))
    view = alert_view(n)
    assert view is not None and component_problems(view.to_components()) == []


def test_ack_refs_fall_back_to_alert_ids_and_fit() -> None:
    """Non-hex message keys use alert ids, as many as fit in 100 characters."""
    refs = ack_refs(notify(message_key="msg-1", states=(LineState.FIRING,) * 20))
    assert refs[0] == f"{0:012x}" and len("bubabot:ack:" + ".".join(refs)) <= 100
    assert AckButton.__discord_ui_compiled_template__.fullmatch("bubabot:ack:" + ".".join(refs))


def test_a_reminder_acks_the_messages_it_reminds_of() -> None:
    originals = ["a" * 32, "b" * 32]
    n = notify(NotificationType.REPEAT, details={"original_message_keys": originals})
    assert ack_refs(n) == originals


def test_nothing_to_ack_when_everything_is_acked() -> None:
    n = notify()
    n = dataclasses.replace(n, alerts=tuple(dataclasses.replace(a, ack_by="jo")
                                            for a in n.alerts))
    assert ack_refs(n) == []


def test_every_button_template_is_anchored_on_bubabot() -> None:
    for item in ALERT_BUTTONS:
        assert item.__discord_ui_compiled_template__.pattern.startswith("bubabot:")
