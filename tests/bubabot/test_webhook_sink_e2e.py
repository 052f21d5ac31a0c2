"""The webhook sink against the emulator's channel webhooks: the same embeds as the bot sink,
one message per incident, links instead of replies, 429s and 5xx through the real outbox
(a real SQLite file), and the webhook's URL never in a log line or a stored row."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bubabot_local.emulator import DiscordEmulator
from bubabot_local.emulator_channel_webhooks import ChannelWebhook
from bubabot_local.harness import NOW, ONCALL_ROLE, QUICK_TASKS, firing_line
from bubabot_local.simkit import sim_settings

from bubabot.render import notification_embed
from bubabot.webhook import WebhookSink
from bubabot.webhook_env import sink_from_environment
from remi_ops.alerts.model import LineState, Notification, NotificationType
from remi_ops.alerts.outbox import Outbox, SinkUnavailable
from remi_ops.alerts.text import alert_line
from remi_ops.clock import SystemClock
from remi_ops.config import AlertSettings
from remi_ops.domain import Severity
from remi_ops.exceptions import ConfigError
from remi_ops.store.database import Store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(20)]

KEY = "5e0c2b7a9d1f4c3e8a6b0d2f4e6a8c0b"
FAST = AlertSettings(retry_initial_s=0.05, retry_max_s=0.2)


def notification(kind: NotificationType = NotificationType.FIRING, *, nid: str = "n1",
                 severity: Severity = Severity.PAGE, key: str = KEY,
                 reply_to: str | None = None) -> Notification:
    line = firing_line("hang", severity=severity, evidence="Thread 0x7f (most recent call)")
    if kind is NotificationType.RESOLVED:
        line = dataclasses.replace(line, state=LineState.RESOLVED, resolved_at=NOW)
    return Notification(id=nid, type=kind, group_key="remi:health", target="remi",
                        message_key=key, thread_key="remi:health", severity=severity,
                        title=f"remi: {kind}", lines=(alert_line(line),), alerts=(line,),
                        created_at=NOW, counts={line.state.value: 1}, reply_to=reply_to)


@pytest.fixture
def hook(emulator: DiscordEmulator) -> ChannelWebhook:
    return emulator.add_channel_webhook(QUICK_TASKS)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = Store.open(tmp_path / "state.sqlite3", SystemClock())
    yield opened
    opened.close()


async def drain(outbox: Outbox, within_s: float = 10.0) -> None:
    """Pump in real time, sleeping until each retry is due, until nothing is left."""
    deadline = asyncio.get_running_loop().time() + within_s
    while any(outbox.backlog().values()):
        assert asyncio.get_running_loop().time() < deadline, outbox.backlog()
        report = await outbox.pump()
        await asyncio.sleep(max(report.next_due_s or 0.0, 0.01))


async def test_post_update_resolve_is_one_webhook_message_with_the_bot_sinks_embed(
        emulator: DiscordEmulator, hook: ChannelWebhook) -> None:
    """Firing posts (as the webhook), update and resolved edit that message."""
    sink = WebhookSink(hook.url, ONCALL_ROLE)
    ref = await sink.deliver(notification(), None)
    assert ref is not None
    paged = emulator.message(int(ref))
    assert paged.content == f"<@&{ONCALL_ROLE}>" and paged.mention_role_ids == [ONCALL_ROLE]
    assert await sink.deliver(notification(NotificationType.UPDATE, nid="n2"), ref) == ref
    resolved = notification(NotificationType.RESOLVED, nid="n3")
    assert await sink.deliver(resolved, ref) == ref
    [message] = emulator.messages(QUICK_TASKS)
    assert message.webhook_id == hook.id and message.edit_count == 2
    assert message.embeds == [notification_embed(resolved).to_dict()]


async def test_only_a_page_mentions_the_oncall_role(emulator: DiscordEmulator,
                                                    hook: ChannelWebhook) -> None:
    sink = WebhookSink(hook.url, ONCALL_ROLE)
    ref = await sink.deliver(notification(severity=Severity.WARNING), None)
    assert ref is not None
    quiet = emulator.message(int(ref))
    assert quiet.content == "" and quiet.mention_role_ids == [] and not quiet.mention_everyone


async def test_an_event_links_to_the_alert_it_follows(emulator: DiscordEmulator,
                                                      hook: ChannelWebhook) -> None:
    """A webhook cannot reply: the restart report carries a jump link to the alert."""
    sink = WebhookSink(hook.url)
    alert = await sink.deliver(notification(), None)
    sink.resolve_replies_with(lambda key: alert if key == KEY else None)
    report = notification(NotificationType.EVENT, nid="n2", key="other", reply_to=KEY)
    ref = await sink.deliver(report, None)
    assert ref is not None
    posted = emulator.message(int(ref))
    link = f"https://discord.com/channels/{hook.guild_id}/{QUICK_TASKS}/{alert}"
    assert posted.content == f"↪️ follows {link}" and posted.reference_id is None


async def test_a_deleted_alert_message_is_posted_again(emulator: DiscordEmulator,
                                                       hook: ChannelWebhook) -> None:
    sink = WebhookSink(hook.url)
    ref = await sink.deliver(notification(), None)
    assert ref is not None
    emulator.message(int(ref)).deleted = True
    new = await sink.deliver(notification(NotificationType.UPDATE, nid="n2"), ref)
    assert new is not None and new != ref
    assert [m.id for m in emulator.messages(QUICK_TASKS)] == [int(new)]


@pytest.mark.parametrize("global_limit", [False, True], ids=["bucket", "global"])
async def test_a_burst_of_429s_is_waited_out_and_nothing_is_lost(
        emulator: DiscordEmulator, hook: ChannelWebhook, store: Store,
        global_limit: bool) -> None:
    """Three notifications, three 429s: each retry waits out retry_after; all arrive once."""
    emulator.fail_next(3, status=429, retry_after=0.3, route_prefix="/webhooks/",
                       global_limit=global_limit)
    outbox = Outbox(store, [WebhookSink(hook.url)], SystemClock(), settings=FAST)
    notes = [notification(nid=f"n{i}", key=f"key{i}") for i in range(3)]
    outbox.enqueue(notes)
    await drain(outbox)
    assert sorted(e["footer"]["text"] for m in emulator.messages(QUICK_TASKS)
                  for e in m.embeds) == sorted(f"remi:health · firing · id {n.id}" for n in notes)
    posts = emulator.find_requests("POST", f"/webhooks/{hook.id}/")
    limited = [i for i, r in enumerate(posts) if r.status == 429]
    assert len(limited) == 3
    for i in limited:  # the next try came no sooner than Discord asked
        assert posts[i + 1].at - posts[i].at >= 0.3 - 0.02


async def test_server_errors_are_retried_until_delivered(
        emulator: DiscordEmulator, hook: ChannelWebhook, store: Store) -> None:
    emulator.fail_next(2, status=502, route_prefix="/webhooks/")
    outbox = Outbox(store, [WebhookSink(hook.url)], SystemClock(), settings=FAST)
    outbox.enqueue([notification()])
    await drain(outbox)
    assert len(emulator.messages(QUICK_TASKS)) == 1
    statuses = [r.status for r in emulator.find_requests("POST", f"/webhooks/{hook.id}/")]
    assert statuses == [502, 502, 200]


async def test_the_webhook_url_is_in_no_log_line_error_or_stored_row(
        emulator: DiscordEmulator, hook: ChannelWebhook, store: Store,
        caplog: pytest.LogCaptureFixture) -> None:
    """A wrong token (404), a 5xx, a 429 and an unreachable host: the token is nowhere."""
    caplog.set_level(logging.DEBUG)
    wrong = WebhookSink(hook.url[:-10] + "WRONGTOKEN")
    gone = WebhookSink(f"http://127.0.0.1:9/api/v10/webhooks/{hook.id}/{hook.token}")
    right = WebhookSink(hook.url)
    errors = []
    for sink, status in ((wrong, 0), (gone, 0), (right, 503), (right, 429)):
        if status:
            emulator.fail_next(1, status=status, retry_after=5, route_prefix="/webhooks/")
        with pytest.raises(SinkUnavailable) as caught:
            await sink.deliver(notification(), None)
        errors.append(str(caught.value))
    assert "(404, code 10015)" in errors[0] and "cannot reach" in errors[1]
    assert errors[2:] == ["Discord answered 503", "Discord rate limit: retry in 5.0s"]
    outbox = Outbox(store, [gone], SystemClock(), settings=FAST)
    outbox.enqueue([notification()])
    await outbox.pump()
    stored = [str(tuple(row)) for row in store.query("SELECT * FROM outbox")]
    assert any("cannot reach" in row for row in stored)
    for text in [*errors, *stored, caplog.text]:
        assert hook.token[:-10] not in text and "WRONGTOKEN" not in text


def test_a_malformed_webhook_url_is_one_clear_error_that_does_not_show_it(
        tmp_path: Path) -> None:
    settings = sim_settings(tmp_path)
    secret = "https://discord.com/api/webhooks/notanid/s3cr3t-token-value"
    with pytest.raises(ConfigError) as caught:
        sink_from_environment(settings, {"DISCORD_WEBHOOK_URL": secret})
    [problem] = caught.value.problems
    assert problem.startswith("$DISCORD_WEBHOOK_URL: does not end in /webhooks/<id>/<token>")
    assert "s3cr3t" not in problem
    assert sink_from_environment(settings, {}) is None
