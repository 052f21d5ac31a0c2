"""The outbound dead-man ping: something outside the machine notices a dead Bubabot.

A watcher that dies, freezes or loses the machine cannot say so itself. With
``[watchdog] heartbeat_url`` set, it pings a Healthchecks-compatible URL (Healthchecks.io,
a self-hosted Healthchecks, Uptime Kuma's push monitor): ``<url>/start`` when the watcher
starts, ``<url>`` after each scheduled check while every target is healthy, and
``<url>/fail`` with one short (redacted) line when one is not. When the pings stop, the
service outside alerts.

A ping never delays a check: ``want`` only records what to send next; one task
(``run``) sends it, at most one request in flight, bounded by ``heartbeat_timeout_s``.
A ping asked for while one is in flight is *coalesced*: the newest replaces any that
still waits (only the newest state matters to the service outside), except a ``/start``,
which is never dropped. A failing ping is logged once at WARNING per streak, with the
URL's path hidden (it is the credential), and once at INFO when it works again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:  # imported when a ping is configured: a watcher without one saves ~8 MB
    import aiohttp

from remi_ops.domain import HealthReport

log = logging.getLogger(__name__)
#: what a ``/fail`` body (and a Kuma ``msg``) may hold: one short line
BODY_MAX = 300
#: the path Uptime Kuma's push monitors have, which takes ``?status=up|down`` instead
KUMA_PUSH = "/api/push/"


class PingKind(StrEnum):
    START = "start"
    OK = "ok"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Ping:
    """One ping to send: what it says and the line that goes with it."""

    kind: PingKind
    body: str = ""


@dataclass(frozen=True, slots=True)
class PingRequest:
    """The HTTP request a ping becomes for one service."""

    method: str
    url: str
    body: bytes = b""


def ping_request(url: str, ping: Ping) -> PingRequest | None:
    """The request for ``ping`` at ``url``: Healthchecks' ``/start`` and ``/fail`` paths
    (the body is kept as the ping's log line), or Uptime Kuma's ``status`` query; None when
    the service has no such ping (Kuma has no start)."""
    if KUMA_PUSH in urlsplit(url).path:
        if ping.kind is PingKind.START:
            return None
        status = "up" if ping.kind is PingKind.OK else "down"
        query = urlencode({"status": status, "msg": ping.body or "OK"})
        return PingRequest("GET", f"{url}{'&' if '?' in url else '?'}{query}")
    base = url.rstrip("/")
    path = "" if ping.kind is PingKind.OK else f"/{ping.kind}"
    return PingRequest("POST", f"{base}{path}", ping.body.encode("utf-8"))


def verdict(reports: Iterable[HealthReport | None],
            redact: Callable[[str], str] = str) -> Ping:
    """OK while every checked target is healthy, else FAIL with one line saying which and
    why (redacted: it leaves the machine). A target not checked yet says nothing."""
    seen = [r for r in reports if r is not None]
    sick = [r for r in seen if not r.healthy]
    if not sick:
        return Ping(PingKind.OK, "; ".join(f"{r.target}: {r.status}" for r in seen))
    parts = [f"{r.target}: {r.status}" + (f" ({r.reasons[0]})" if r.reasons else "")
             for r in sick]
    line = " ".join(redact("; ".join(parts)).split())  # one line, whatever a reason held
    return Ping(PingKind.FAIL, line[:BODY_MAX])


def shown_url(url: str) -> str:
    """The URL as a log line may show it: scheme and host, never the path or query (a
    ping URL's path is its credential)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}/…" if parts.scheme else "(ping URL)"


class DeadmanPing:
    """Pings ``url`` after each check; off (every method a no-op) when ``url`` is empty."""

    def __init__(self, url: str, timeout_s: float, *,
                 redact: Callable[[str], str] = str) -> None:
        self.url, self.timeout_s, self.redact = url, timeout_s, redact
        self.pending: list[Ping] = []  # at most a /start and the newest other ping
        self.failing = False  # within a streak of failures (logged once)
        self._wake = asyncio.Event()

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def started(self) -> None:
        """The watcher starts: ``/start``."""
        self.want(Ping(PingKind.START))

    def checked(self, reports: Iterable[HealthReport | None]) -> None:
        """A scheduled check ended: OK, or FAIL with which target and why."""
        if self.enabled:
            self.want(verdict(reports, self.redact))

    def want(self, ping: Ping) -> None:
        """Send ``ping`` next (never waits): it replaces a waiting one, a /start excepted."""
        if not self.enabled:
            return
        starts = [p for p in self.pending if p.kind is PingKind.START][:1]
        if ping.kind is not PingKind.START:
            self.pending = [*starts, ping]
        elif not starts:
            self.pending.insert(0, ping)
        self._wake.set()

    async def run(self, stopping: asyncio.Event) -> None:
        """Send what is wanted, one request at a time, until ``stopping`` is set."""
        if not self.enabled:
            return
        import aiohttp  # noqa: PLC0415 - lazily: only a watcher with a heartbeat_url pays for it

        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not stopping.is_set():
                if not self.pending:
                    self._wake.clear()
                    await _first(self._wake.wait(), stopping.wait())
                    continue
                ping = self.pending.pop(0)
                await self.send(session, ping)

    async def send(self, session: aiohttp.ClientSession, ping: Ping) -> bool:
        """One ping; a failure is logged (once per streak), never raised."""
        import aiohttp  # noqa: PLC0415 - lazily (see ``run``); imported by then

        request = ping_request(self.url, ping)
        if request is None:
            return True
        try:
            async with session.request(request.method, request.url,
                                       data=request.body or None) as response:
                await response.read()
                ok, why = response.status < 400, f"HTTP {response.status}"
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            ok, why = False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self._note(ok, ping, why.replace(self.url, shown_url(self.url)))
        return ok

    def _note(self, ok: bool, ping: Ping, why: str) -> None:
        where = shown_url(self.url)
        if ok:
            if self.failing:
                log.info("dead-man ping to %s works again", where)
            self.failing = False
            return
        if not self.failing:
            log.warning("dead-man ping (%s) to %s failed: %s; checks go on, and this is "
                        "logged again only once it works", ping.kind, where, why)
        else:
            log.debug("dead-man ping (%s) to %s failed again: %s", ping.kind, where, why)
        self.failing = True


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    """Wait until the first of ``waits`` is done; cancel the rest."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
