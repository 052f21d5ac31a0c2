"""The Discord alert sink against the emulator: one message per incident, retries, pages."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

import pytest
from bubabot_local.harness import NOW, ONCALL_ROLE, QUICK_TASKS, Harness, firing_line

from bubabot.sink import DiscordSink
from remi_ops.alerts.model import LineState, Notification, NotificationType
from remi_ops.alerts.outbox import SinkUnavailable
from remi_ops.alerts.text import alert_line
from remi_ops.domain import Severity

pytestmark = [pytest.mark.integration, pytest.mark.timeout(10)]

KEY = "5e0c2b7a9d1f4c3e8a6b0d2f4e6a8c0b"


def notification(kind: NotificationType = NotificationType.FIRING, *,
                 severity: Severity = Severity.PAGE, state: LineState = LineState.FIRING,
                 nid: str = "n1") -> Notification:
    line = firing_line("hang", severity=severity, evidence="Thread 0x7f (most recent call)")
    if state is LineState.RESOLVED:
        line = dataclasses.replace(line, state=state, resolved_at=NOW + timedelta(minutes=14))
    return Notification(id=nid, type=kind, group_key="remi:health", target="remi",
                        message_key=KEY, thread_key="remi:health", severity=severity,
                        title=f"remi: {kind}", lines=(alert_line(line),), alerts=(line,),
                        created_at=NOW, downtime_s=840.0 if state is LineState.RESOLVED else None,
                        counts={state.value: 1})


async def test_post_update_resolve_is_one_message_edited_twice(running: Harness) -> None:
    """Firing posts; update and resolved edit it. Resolved is green with fewer buttons."""
    sink = running.sink()
    ref = await sink.deliver(notification(), None)
    assert ref is not None
    same = await sink.deliver(notification(NotificationType.UPDATE, nid="n2"), ref)
    final = await sink.deliver(notification(NotificationType.RESOLVED, state=LineState.RESOLVED,
                                            nid="n3"), same)
    assert ref == same == final
    [message] = running.channel()
    assert message.edit_count == 2
    embed = message.embeds[0]
    assert embed["color"] == 0x2ECC71 and embed["title"].startswith("✅")
    assert any(f["name"] == "Downtime" and f["value"] == "14m 00s" for f in embed["fields"])
    assert message.custom_ids() == ["bubabot:errors:remi"]


async def test_only_a_page_mentions_the_oncall_role(running: Harness) -> None:
    """A PAGE firing pings on-call; a warning pings nobody."""
    sink = running.sink()
    page = await sink.deliver(notification(), None)
    warn = await sink.deliver(notification(severity=Severity.WARNING, nid="n2"), None)
    assert page is not None and warn is not None
    paged, quiet = running.emulator.message(int(page)), running.emulator.message(int(warn))
    assert paged.content == f"<@&{ONCALL_ROLE}>" and paged.mention_role_ids == [ONCALL_ROLE]
    assert quiet.content == "" and quiet.mention_role_ids == [] and not quiet.mention_everyone


async def test_a_deleted_alert_message_is_posted_again(running: Harness) -> None:
    """Someone deleted the alert: the next edit becomes a new post with a new ref."""
    sink = running.sink()
    ref = await sink.deliver(notification(), None)
    assert ref is not None
    await running.bot.get_partial_messageable(QUICK_TASKS).get_partial_message(int(ref)).delete()
    new = await sink.deliver(notification(NotificationType.UPDATE, nid="n2"), ref)
    assert new is not None and new != ref
    assert [m.id for m in running.channel()] == [int(new)]


async def test_a_burst_of_429s_is_delivered_once(running: Harness) -> None:
    """Short rate limits are waited out by discord.py; one message results."""
    running.emulator.fail_next(3, status=429, retry_after=0.05,
                               route_prefix=f"/channels/{QUICK_TASKS}/messages")
    await running.sink().deliver(notification(), None)
    assert len(running.channel()) == 1
    posts = running.emulator.find_requests("POST", f"/channels/{QUICK_TASKS}/messages")
    assert [r.status for r in posts] == [429, 429, 429, 200]


async def test_a_long_rate_limit_is_handed_to_the_outbox(running: Harness) -> None:
    """Beyond max_ratelimit_timeout the sink gives up at once with retry_after."""
    running.emulator.fail_next(1, status=429, retry_after=60,
                               route_prefix=f"/channels/{QUICK_TASKS}/messages")
    with pytest.raises(SinkUnavailable) as raised:
        await running.sink().deliver(notification(), None)
    assert raised.value.retry_after == 60
    assert running.channel() == []


async def test_an_outage_is_unavailable_then_delivered_once(running: Harness) -> None:
    """Discord down: SinkUnavailable; after it comes back, the retry posts exactly once."""
    sink = running.sink()
    await running.emulator.outage()
    with pytest.raises(SinkUnavailable):
        await sink.deliver(notification(), None)
    await running.emulator.end_outage()
    ref = await sink.deliver(notification(), None)
    assert [m.id for m in running.channel()] == [int(ref or 0)]


async def test_a_refused_payload_is_logged_once(running: Harness,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """A 403 is our mistake (permissions): retried like an outage, logged as an error once."""
    running.emulator.fail_next(2, status=403, route_prefix=f"/channels/{QUICK_TASKS}/messages")
    sink = running.sink()
    for _ in range(2):
        with pytest.raises(SinkUnavailable, match="refused"):
            await sink.deliver(notification(), None)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "permissions" in errors[0].getMessage()
    caplog.clear()


async def test_a_closed_client_is_unavailable(harness: Harness) -> None:
    """Before login or after close, nothing is attempted."""
    await harness.start_bot()
    sink = DiscordSink(harness.bot, QUICK_TASKS, None)
    await harness.stop_bot()
    with pytest.raises(SinkUnavailable, match="not logged in"):
        await sink.deliver(notification(), None)


async def test_an_event_replies_to_the_message_its_reply_to_was_posted_as(
        running: Harness) -> None:
    """The reply target comes from the stored refs (a fresh sink knows nothing else); an
    event whose incident was never posted is a message of its own."""
    posted = await running.sink().deliver(notification(), None)
    assert posted is not None
    fresh = running.sink()  # as after a restart: nothing in memory
    fresh.resolve_replies_with({KEY: posted}.get)
    event = dataclasses.replace(notification(NotificationType.EVENT, nid="n2"), reply_to=KEY)
    reply = await fresh.deliver(event, None)
    alone = await fresh.deliver(dataclasses.replace(event, id="n3", reply_to="never-posted"),
                                None)
    assert reply is not None and alone is not None
    assert running.emulator.message(int(reply)).reference_id == int(posted)
    assert running.emulator.message(int(alone)).reference_id is None
