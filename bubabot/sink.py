"""The Discord alert sink: posts alerts to #quick-tasks and edits them as they change.

It implements ``remi_ops.alerts.outbox.Sink``. A new alert (firing, repeat, flapping, event) is a
new message whose id is the reference the outbox keeps; an update or resolution edits that
message, so one incident is one message (resolved: green, downtime shown, buttons
reduced). A deleted message is posted again. Only REST is used (``PartialMessageable``),
so delivery does not depend on the gateway cache.

Every failure becomes ``SinkUnavailable`` and the outbox retries with backoff: long rate
limits (the client raises ``RateLimited`` beyond ``max_ratelimit_timeout``), 5xx, network
errors, a closed client. A 4xx (other than a vanished message on edit) means our payload
or permissions are wrong; it is retried too, but logged as an error once per kind so a
person notices.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

import aiohttp
import discord

from bubabot.render import CONTENT_MAX, notification_embed
from bubabot.views import alert_view
from remi_ops.alerts.model import Notification, NotificationType
from remi_ops.alerts.outbox import SinkUnavailable
from remi_ops.alerts.text import alert_line
from remi_ops.domain import Severity

log = logging.getLogger(__name__)

Renderer = Callable[[Notification], discord.Embed]
#: notifications that may ping the on-call role when they are pages
#: how long a delivery waits for the first login (READY) before calling Discord unavailable
LOGIN_WAIT_S = 10.0
PAGING_TYPES = (NotificationType.FIRING, NotificationType.REPEAT)


class DiscordSink:
    """Delivers notifications to one channel through a logged-in discord.py client."""

    name = "discord"

    def __init__(self, client: discord.Client, channel_id: int, oncall_role_id: int | None,
                 render: Renderer = notification_embed) -> None:
        self.client = client
        self.channel_id = channel_id
        self.oncall_role_id = oncall_role_id
        self.render = render
        self._reported: set[tuple[int, int]] = set()
        #: a message key → this sink's message id (the outbox's persisted ``sink_refs``);
        #: blocking (SQLite), so called in a worker thread
        self._message_ref: Callable[[str], str | None] = lambda _key: None

    def resolve_replies_with(self, message_ref: Callable[[str], str | None]) -> None:
        """Where a notification's ``reply_to`` was posted. From the store, not memory: the
        restart report and scan result still reply to the incident's alert after Bubabot
        restarted between them (the sink is built before the store is open)."""
        self._message_ref = message_ref

    async def deliver(self, n: Notification, previous_ref: str | None) -> str | None:
        if answered_in_discord(n):
            return None
        if not await self._logged_in():
            raise SinkUnavailable("the Discord client is not logged in")
        embed, view = self.render(n), alert_view(n)
        try:
            if n.type.edits and previous_ref is not None and previous_ref.isdigit():
                edited = await self._edit(int(previous_ref), embed, view)
                if edited:
                    await self._page_escalation(n, int(previous_ref))
                    return previous_ref
                log.warning("alert message %s is gone; posting %s anew", previous_ref, n.id)
            return await self._post(n, embed, view)
        except discord.RateLimited as error:
            raise SinkUnavailable(f"rate limited for {error.retry_after:.0f}s",
                                  retry_after=error.retry_after) from error
        except discord.HTTPException as error:
            raise self._unavailable(error) from error
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise SinkUnavailable(f"cannot reach Discord: {error!r}") from error

    async def _logged_in(self) -> bool:
        """Logged in, or soon: the outbox starts with the bot, before its first READY, and an
        alert waiting out those seconds is not an outage worth a warning."""
        if self.client.is_closed():
            return False
        if self.client.user is None:
            try:
                await asyncio.wait_for(self.client.wait_until_ready(), LOGIN_WAIT_S)
            except (TimeoutError, RuntimeError):  # RuntimeError: login has not even begun
                return False
        return self.client.user is not None

    async def _post(self, n: Notification, embed: discord.Embed,
                    view: discord.ui.View | None) -> str:
        channel = self.client.get_partial_messageable(self.channel_id)
        content, mentions = self._page(n)
        extra: dict[str, object] = {}
        incident = await self._reply_target(n)
        if incident is not None:
            extra["reference"] = discord.MessageReference(
                message_id=incident, channel_id=self.channel_id, fail_if_not_exists=False)
        if view is not None:
            extra["view"] = view
        # send()'s overloads take no None for reference/view, hence kwargs passed only when set
        message = await channel.send(content, embed=embed, allowed_mentions=mentions,
                                     **extra)  # type: ignore[call-overload]
        return str(message.id)

    async def _reply_target(self, n: Notification) -> int | None:
        """The Discord message an event answers: its incident's alert, if it was posted."""
        if n.type is not NotificationType.EVENT or not n.reply_to:
            return None
        ref = await asyncio.to_thread(self._message_ref, n.reply_to)
        return int(ref) if ref is not None and ref.isdigit() else None

    async def _edit(self, message_id: int, embed: discord.Embed,
                    view: discord.ui.View | None) -> bool:
        """Edit the earlier message; False when it no longer exists."""
        message = self.client.get_partial_messageable(self.channel_id).get_partial_message(
            message_id)
        try:
            await message.edit(embed=embed, view=view,
                               allowed_mentions=discord.AllowedMentions.none())
        except discord.NotFound:
            return False
        return True

    async def _page_escalation(self, n: Notification, message_id: int) -> None:
        """A warning edited into a page (a blocked loop that became the hang): Discord
        does not notify anyone of an edit, so the page is a short reply to that alert."""
        escalated = set(n.details.get("escalated") or ())
        lines = [a for a in n.alerts if str(a.key) in escalated and a.severity is Severity.PAGE]
        if not lines or not self.oncall_role_id:
            return
        text = "; ".join(discord.utils.escape_markdown(alert_line(a)) for a in lines)
        await self.client.get_partial_messageable(self.channel_id).send(
            f"<@&{self.oncall_role_id}> {n.target}: {text}"[:CONTENT_MAX],
            reference=discord.MessageReference(message_id=message_id,
                                               channel_id=self.channel_id,
                                               fail_if_not_exists=False),
            allowed_mentions=discord.AllowedMentions(
                everyone=False, users=False, roles=[discord.Object(self.oncall_role_id)]))

    def _page(self, n: Notification) -> tuple[str | None, discord.AllowedMentions]:
        """Mention the on-call role on a real page; nothing else ever pings."""
        if (self.oncall_role_id and n.severity is Severity.PAGE and n.type in PAGING_TYPES):
            role = discord.Object(self.oncall_role_id)
            return f"<@&{self.oncall_role_id}>", discord.AllowedMentions(
                everyone=False, users=False, roles=[role])
        return None, discord.AllowedMentions.none()

    def _unavailable(self, error: discord.HTTPException) -> SinkUnavailable:
        retry_after = _retry_after(error)
        if error.status == 429 or error.status >= 500:
            return SinkUnavailable(f"Discord answered {error.status}", retry_after=retry_after)
        kind = (error.status, error.code)
        if kind not in self._reported:
            self._reported.add(kind)
            log.error("Discord refused an alert (%s, code %s): %s; check the channel id, "
                      "the bot's permissions and the payload", error.status, error.code,
                      error.text)
        return SinkUnavailable(f"Discord refused the alert ({error.status}): {error.text}")


def answered_in_discord(n: Notification) -> bool:
    """A restart a person asked for in Discord: the answer to their command or button is
    the public result (with who asked), so the watcher's event would only repeat it."""
    if n.type is not NotificationType.EVENT or not n.alerts:
        return False
    for line in n.alerts:
        report = line.details.get("restart")
        if (line.key.kind != "restart" or not isinstance(report, Mapping)
                or report.get("trigger") != "operator"
                # bubabot.access.Actor.label: how a Discord user is named as the requester
                or not str(report.get("requested_by", "")).startswith("discord:")):
            return False
    return True


def _retry_after(error: discord.HTTPException) -> float | None:
    header = getattr(error.response, "headers", {}).get("Retry-After")
    try:
        return float(header) if header is not None else None
    except ValueError:
        return None
