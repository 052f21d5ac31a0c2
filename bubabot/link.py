"""Keeping Bubabot connected to Discord without ever holding up Remi's supervision.

Discord may be unreachable when Bubabot starts (network down, DNS, an outage) or later.
The watcher never waits for it: ``App.start`` starts supervising first and hands the
login to a ``DiscordLink`` task, which logs in with backoff (5 s doubling to 5 min) and
then keeps the gateway connected (discord.py's own reconnect loop). Meanwhile alerts wait
in the outbox: the Discord sink reports itself unavailable until the client is logged in,
and the outbox delivers the queue once it is.

A person reading the log sees one line per change of state ("Discord unreachable
(connection refused); retrying in 5s", "Discord reachable again"), never a traceback:
discord.py's own "Attempting a reconnect" records (logged with a traceback on every try)
are rewritten into the same line by ``ReconnectLines`` and repeats are dropped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

import aiohttp
import discord
from discord.ext import commands
from discord.utils import MISSING

from remi_ops.durations import format_duration

log = logging.getLogger(__name__)
#: what "Discord is not reachable right now" looks like from discord.py
UNREACHABLE = (OSError, aiohttp.ClientError, TimeoutError, discord.HTTPException,
               discord.GatewayNotFound)
#: discord.py's reconnect loop logs this (with a traceback) on every failed connect
RECONNECT_MESSAGE = "Attempting a reconnect in %.2fs"
RETRY_INITIAL_S, RETRY_MAX_S = 5.0, 300.0


def describe(error: BaseException | None) -> str:
    """A short reason a person can act on: "connection refused", "HTTP 503", …"""
    if isinstance(error, aiohttp.ClientConnectorError):
        error = error.os_error
    if isinstance(error, discord.ConnectionClosed):
        return f"gateway closed with code {error.code}"
    if isinstance(error, discord.HTTPException):
        return f"HTTP {error.status}"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, socket.gaierror):  # its errno is a resolver code, not an OS one
        return f"cannot resolve the host name ({error.strerror or error})".lower()
    if isinstance(error, OSError) and error.errno is not None:
        return os.strerror(error.errno).lower()
    if error is None:
        return "no reason given"
    return str(error) or type(error).__name__


class DiscordLink:
    """Logs a client in, retrying with backoff, then keeps it connected."""

    def __init__(self, bot: commands.Bot, *, retry_initial_s: float = RETRY_INITIAL_S,
                 retry_max_s: float = RETRY_MAX_S) -> None:
        self.bot = bot
        self.retry_initial_s, self.retry_max_s = retry_initial_s, retry_max_s
        self.trouble: str | None = None  # the reason Discord is unreachable, None when fine
        self.filter = ReconnectLines(self)

    async def run(self, token: str) -> None:
        """Log in (retrying until it works or the token is refused), then stay connected."""
        if not await self._log_in(token):
            return
        try:
            await self.bot.connect(reconnect=True)
        except discord.ConnectionClosed as error:
            log.error("Discord closed the connection for good (%s); Remi stays supervised "
                      "and alerts stay queued until Bubabot is restarted", describe(error))
        except discord.PrivilegedIntentsRequired:
            log.error("Discord refused Bubabot's intents; enable them in the developer "
                      "portal and restart Bubabot (Remi stays supervised)")
        except Exception:
            # not an outage but a bug: the traceback is wanted; supervision goes on
            log.exception("the Discord connection ended with an unexpected error; Remi stays "
                          "supervised, alerts stay queued")

    async def _log_in(self, token: str) -> bool:
        delay = self.retry_initial_s
        while True:
            try:
                await self.bot.login(token)
            except discord.LoginFailure:
                log.error("Discord refused Bubabot's token (401); set a valid DISCORD_TOKEN "
                          "and restart Bubabot. Remi stays supervised; alerts stay queued")
                return False
            except UNREACHABLE as error:
                self.unreachable(describe(error), delay)
                await self._drop_session()
                await asyncio.sleep(delay)
                delay = min(self.retry_max_s, delay * 2)
                continue
            self.reachable()
            return True

    async def _drop_session(self) -> None:
        """A failed login leaves an HTTP session behind; close it so the next try starts
        clean (it closes the connector too, so a new one is made on the next login)."""
        await self.bot.http.close()
        self.bot.http.connector = MISSING

    def unreachable(self, reason: str, retry_in_s: float) -> bool:
        """Note the trouble; True (and one log line) when it is news."""
        if reason == self.trouble:
            log.debug("Discord still unreachable (%s); retrying in %s", reason,
                      format_duration(retry_in_s))
            return False
        self.trouble = reason
        log.warning("Discord unreachable (%s); retrying in %s", reason,
                    format_duration(retry_in_s))
        return True

    def reachable(self) -> None:
        if self.trouble is not None:
            log.info("Discord reachable again (was: %s)", self.trouble)
        self.trouble = None

    def attach(self) -> None:
        """Start rewriting discord.py's reconnect records; hear when it is back."""
        logging.getLogger("discord.client").addFilter(self.filter)
        self.bot.add_listener(self._on_connected, "on_connect")
        self.bot.add_listener(self._on_connected, "on_resumed")

    def detach(self) -> None:
        logging.getLogger("discord.client").removeFilter(self.filter)

    async def _on_connected(self) -> None:
        self.reachable()


class ReconnectLines(logging.Filter):
    """discord.py's "Attempting a reconnect" (a traceback per try) → our one line."""

    def __init__(self, link: DiscordLink) -> None:
        super().__init__()
        self.link = link

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != RECONNECT_MESSAGE:
            return True
        error = record.exc_info[1] if record.exc_info else None
        args = record.args if isinstance(record.args, tuple) else ()
        retry_s = float(args[0]) if args and isinstance(args[0], int | float) else 0.0
        reason = describe(error)
        record.exc_info, record.exc_text = None, None
        if reason == self.link.trouble:
            return False
        self.link.trouble = reason
        record.msg = "Discord unreachable (%s); retrying in %s"
        record.args = (reason, format_duration(retry_s))
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
