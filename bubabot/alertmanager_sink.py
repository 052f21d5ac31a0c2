"""Alertmanager groups in #quick-tasks: one message per ``groupKey``, edited as it changes.

An outbox sink (``remi_ops.alertmanager.rows.SINK``): the outbox retries it with backoff,
honours ``Retry-After`` (a 429 beyond discord.py's own wait becomes ``SinkUnavailable``
with it) and keeps edits of one group in order. The first notification of a group posts;
later ones edit that message (the outbox hands back its id), and a deleted message is
posted again. Failures map to ``SinkUnavailable`` exactly as the bot sink's do, since it
is that sink with another renderer.
"""

from __future__ import annotations

import io
import logging

import aiohttp
import discord

from bubabot.alertmanager_view import group_view
from bubabot.sink import DiscordSink
from remi_ops.alertmanager.groups import GroupState
from remi_ops.alertmanager.layout import GroupMessage, layout
from remi_ops.alertmanager.rows import SINK
from remi_ops.alerts.model import Notification
from remi_ops.alerts.outbox import SinkUnavailable

log = logging.getLogger(__name__)


def files_of(message: GroupMessage) -> list[discord.File]:
    if message.attachment is None:
        return []
    return [discord.File(io.BytesIO(message.attachment.encode("utf-8")),
                         filename=message.filename)]


class AlertmanagerSink(DiscordSink):
    """Posts and edits Alertmanager group messages in one channel."""

    name = SINK

    def __init__(self, client: discord.Client, channel_id: int, target_label: str) -> None:
        super().__init__(client, channel_id, None)
        self.target_label = target_label

    async def deliver(self, n: Notification, previous_ref: str | None) -> str | None:
        state = GroupState.from_dict(n.details["alertmanager"])
        message = layout(state)
        embed = discord.Embed.from_dict(dict(message.embed))
        view = group_view(state, self.target_label)
        if not await self._logged_in():
            raise SinkUnavailable("the Discord client is not logged in")
        channel = self.client.get_partial_messageable(self.channel_id)
        try:
            if previous_ref is not None and previous_ref.isdigit():
                try:
                    await channel.get_partial_message(int(previous_ref)).edit(
                        embed=embed, view=view, attachments=files_of(message),
                        allowed_mentions=discord.AllowedMentions.none())
                    return previous_ref
                except discord.NotFound:
                    log.warning("alertmanager message %s is gone; posting the group anew",
                                previous_ref)
            extra: dict[str, object] = {"view": view} if view is not None else {}
            # send()'s overloads take no None for view, hence passed only when set
            posted = await channel.send(embed=embed, files=files_of(message),
                                        allowed_mentions=discord.AllowedMentions.none(),
                                        **extra)  # type: ignore[call-overload]
            return str(posted.id)
        except discord.RateLimited as error:
            raise SinkUnavailable(f"rate limited for {error.retry_after:.0f}s",
                                  retry_after=error.retry_after) from error
        except discord.HTTPException as error:
            raise self._unavailable(error) from error
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise SinkUnavailable(f"cannot reach Discord: {error!r}") from error
