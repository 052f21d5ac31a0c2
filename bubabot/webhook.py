"""Alerts without the bot: #quick-tasks through a Discord channel webhook.

The headless ``remi-ops watch`` has no Discord client; with ``DISCORD_WEBHOOK_URL`` set it
posts the same embeds as the bot sink (``bubabot.render.notification_embed``) with plain
HTTP: ``POST <url>?wait=true`` for a new alert (the message id is the reference the outbox
keeps), ``PATCH <url>/messages/<id>`` for an update or resolution, so one incident stays one
message. Any base URL works: Discord's, or the emulator's on 127.0.0.1.

What a webhook cannot do, and what it does instead:

* reply: the restart report and the scan result that follow an alert carry a line
  "↪️ follows <jump link>" to that alert's message (the bot sink replies to it);
* buttons: only an application's webhook may send components, so there are none; ack and
  silence from a terminal (``remi-ops ack <message key>``, shown in the footer);
* notify on an edit: a warning edited into a page gets a short new message that mentions
  the on-call role and links to the alert, as the bot sink does with a reply.

Every failure becomes ``SinkUnavailable`` and the outbox keeps the row and retries: a 429
with its ``retry_after`` (JSON, else ``Retry-After``; global or not), 5xx, network errors.
A 4xx (other than an edited message that is gone) means the URL or the payload is wrong; it
is retried too, and logged once per kind so a person notices. The URL holds the webhook's
token, a secret: no log line, error or stored row of this module contains it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import discord
from yarl import URL

from bubabot.render import CONTENT_MAX, notification_embed
from bubabot.sink import PAGING_TYPES, Renderer, answered_in_discord
from remi_ops.alerts.model import Notification
from remi_ops.alerts.outbox import SinkUnavailable
from remi_ops.alerts.text import alert_line
from remi_ops.domain import Severity

log = logging.getLogger(__name__)

SINK_NAME = "webhook"
REQUEST_TIMEOUT_S = 10.0
#: a bucket that is empty for at most this long is waited out here, not by the outbox
WAIT_INLINE_S = 2.0
JUMP_LINK = "https://discord.com/channels/{guild}/{channel}/{message}"
UNKNOWN_MESSAGE = 10008
NO_MENTIONS: dict[str, Any] = {"parse": []}


class WebhookSink:
    """Delivers notifications to the channel of one Discord webhook (``name`` "webhook").

    Its references are the webhook's message ids, kept apart from the bot sink's
    ("discord"): a message one of them posted cannot be edited by the other.
    """

    name = SINK_NAME

    def __init__(self, url: str, oncall_role_id: int | None = None, *,
                 render: Renderer = notification_embed,
                 timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        parsed = URL(url.strip())
        self._base = parsed.with_path(parsed.path.rstrip("/")).with_query(None) \
            .with_fragment(None)
        self._query = {k: v for k, v in parsed.query.items() if k != "wait"}  # thread_id
        # longest first: the whole URL is replaced before its token alone
        self._secrets = tuple(s for s in (url, str(self._base), self._base.name) if s)
        self.oncall_role_id = oncall_role_id
        self.render = render
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._channel: tuple[str, str] | None = None  # (guild id, channel id), for links
        self._not_before = 0.0  # monotonic: the bucket is empty until then
        self._reported: set[tuple[int, int]] = set()
        self._message_ref: Callable[[str], str | None] = lambda _key: None

    def resolve_replies_with(self, message_ref: Callable[[str], str | None]) -> None:
        """Where a notification's ``reply_to`` was posted by this sink (blocking: SQLite)."""
        self._message_ref = message_ref

    def scrub(self, text: str) -> str:
        """``text`` without the webhook's URL or token."""
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED:discord_webhook]")
        return text

    async def deliver(self, n: Notification, previous_ref: str | None) -> str | None:
        if answered_in_discord(n):
            return None
        await self._wait_for_bucket()
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as session:
                return await self._deliver(session, n, previous_ref)
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise SinkUnavailable(
                f"cannot reach Discord: {self.scrub(repr(error))}") from None

    async def _deliver(self, session: aiohttp.ClientSession, n: Notification,
                       previous_ref: str | None) -> str:
        embeds = [self.render(n).to_dict()]
        if n.type.edits and previous_ref is not None and previous_ref.isdigit():
            body = {"embeds": embeds, "allowed_mentions": NO_MENTIONS}
            status, doc = await self._call(session, "PATCH", f"messages/{previous_ref}", body)
            if status < 300:
                await self._page_escalation(session, n, previous_ref)
                return previous_ref
            log.warning("alert message %s is gone; posting %s anew", previous_ref, n.id)
        content, mentions = self._page(n)
        follows = await self._follows_line(session, n)
        text = "\n".join(part for part in (content, follows) if part)
        body = {"content": text[:CONTENT_MAX], "embeds": embeds, "allowed_mentions": mentions}
        _status, doc = await self._call(session, "POST", "", body)
        return str(doc["id"])

    async def _call(self, session: aiohttp.ClientSession, method: str, path: str,
                    body: Mapping[str, Any] | None = None) -> tuple[int, Any]:
        """One request; (status, JSON) for success and for a gone message on an edit,
        ``SinkUnavailable`` for everything else."""
        url = self._base / path if path else self._base
        params = {**self._query, "wait": "true"} if method == "POST" else dict(self._query)
        async with session.request(method, url, params=params, json=body) as response:
            doc = await _json(response)
            self._note_bucket(response.headers)
            if response.status < 300:
                return response.status, doc
            if (response.status == 404 and method == "PATCH"
                    and _code(doc) == UNKNOWN_MESSAGE):
                return response.status, doc
            raise self._unavailable(response.status, response.headers, doc)

    def _unavailable(self, status: int, headers: Mapping[str, str], doc: Any) -> SinkUnavailable:
        if status == 429:
            retry_after = _retry_after(headers, doc)
            scope = "global " if _is_global(headers, doc) else ""
            self._not_before = time.monotonic() + (retry_after or 0.0)
            return SinkUnavailable(f"Discord {scope}rate limit: retry in "
                                   f"{retry_after or 0:.1f}s", retry_after=retry_after)
        if status >= 500:
            return SinkUnavailable(f"Discord answered {status}")
        code = _code(doc)
        message = self.scrub(str(doc.get("message", "")) if isinstance(doc, dict) else "")
        if (status, code) not in self._reported:
            self._reported.add((status, code))
            log.error("Discord refused an alert through the webhook (%s, code %s): %s; check "
                      "DISCORD_WEBHOOK_URL (a deleted webhook answers 404, code 10015) and "
                      "the payload", status, code, message)
        return SinkUnavailable(f"Discord refused the alert ({status}, code {code}): {message}")

    def _note_bucket(self, headers: Mapping[str, str]) -> None:
        """An empty bucket (``X-RateLimit-Remaining: 0``) is waited out before the next
        request, so a burst of alerts does not collect 429s."""
        if headers.get("X-RateLimit-Remaining") != "0":
            return
        try:
            reset_after = float(headers.get("X-RateLimit-Reset-After", ""))
        except ValueError:
            return
        self._not_before = max(self._not_before, time.monotonic() + reset_after)

    async def _wait_for_bucket(self) -> None:
        wait = self._not_before - time.monotonic()
        if wait <= 0:
            return
        if wait > WAIT_INLINE_S:
            raise SinkUnavailable(f"Discord rate limit: retry in {wait:.1f}s", retry_after=wait)
        await asyncio.sleep(wait)

    async def _follows_line(self, session: aiohttp.ClientSession,
                            n: Notification) -> str | None:
        """Instead of a reply: a jump link to the alert this event follows, if posted here."""
        if not n.reply_to:
            return None
        ref = await asyncio.to_thread(self._message_ref, n.reply_to)
        if ref is None or not ref.isdigit():
            return None
        return f"↪️ follows {await self._jump_link(session, ref)}"

    async def _jump_link(self, session: aiohttp.ClientSession, message_id: str) -> str:
        if self._channel is None:  # the webhook object says where it posts (asked once)
            _status, doc = await self._call(session, "GET", "")
            self._channel = (str(doc.get("guild_id") or "@me"), str(doc["channel_id"]))
        guild, channel = self._channel
        return JUMP_LINK.format(guild=guild, channel=channel, message=message_id)

    def _page(self, n: Notification) -> tuple[str | None, dict[str, Any]]:
        """Mention the on-call role on a real page; nothing else ever pings."""
        if self.oncall_role_id and n.severity is Severity.PAGE and n.type in PAGING_TYPES:
            return (f"<@&{self.oncall_role_id}>",
                    {"parse": [], "roles": [str(self.oncall_role_id)]})
        return None, NO_MENTIONS

    async def _page_escalation(self, session: aiohttp.ClientSession, n: Notification,
                               message_id: str) -> None:
        """A warning edited into a page: Discord notifies nobody of an edit, so the page is
        a short new message linking to the alert."""
        escalated = set(n.details.get("escalated") or ())
        lines = [a for a in n.alerts if str(a.key) in escalated and a.severity is Severity.PAGE]
        if not lines or not self.oncall_role_id:
            return
        text = "; ".join(discord.utils.escape_markdown(alert_line(a)) for a in lines)
        link = await self._jump_link(session, message_id)
        content = f"<@&{self.oncall_role_id}> {n.target}: {text}"[: CONTENT_MAX - len(link) - 3]
        await self._call(session, "POST", "", {
            "content": f"{content} — {link}",
            "allowed_mentions": {"parse": [], "roles": [str(self.oncall_role_id)]}})


async def _json(response: aiohttp.ClientResponse) -> Any:
    """The body as JSON, or {} (a 204, an HTML error page from a proxy)."""
    try:
        doc = await response.json(content_type=None)
    except ValueError:
        return {}
    return {} if doc is None else doc


def _code(doc: Any) -> int:
    return int(doc.get("code") or 0) if isinstance(doc, dict) else 0


def _retry_after(headers: Mapping[str, str], doc: Any) -> float | None:
    """Seconds to wait: the JSON ``retry_after`` (precise), else ``Retry-After``."""
    for raw in ((doc.get("retry_after") if isinstance(doc, dict) else None),
                headers.get("Retry-After")):
        try:
            return max(float(str(raw)), 0.0)
        except (TypeError, ValueError):
            continue  # absent or garbled: the next source
    return None


def _is_global(headers: Mapping[str, str], doc: Any) -> bool:
    return bool(isinstance(doc, dict) and doc.get("global")) or (
        headers.get("X-RateLimit-Global", "").lower() == "true")
