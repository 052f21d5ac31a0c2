"""The dead-man ping: what it sends (pure), and a real watcher pinging a real local HTTP
server — ``/start``, the ok ping, ``/fail`` — while a dead or silent server never delays a
check nor stops the watcher."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bubabot_local.simkit import control, sim_settings, sims_in

from remi_ops.checks.healthfile import read_health_file
from remi_ops.config import Settings
from remi_ops.domain import Check, Finding, HealthReport, Status
from remi_ops.logs.known_secrets import config_secrets
from remi_ops.logs.redact import Redactor
from remi_ops.supervision.supervisor import State
from remi_ops.testing import wait_until_async as until
from remi_ops.watch.deadman import (
    BODY_MAX,
    DeadmanPing,
    Ping,
    PingKind,
    PingRequest,
    ping_request,
    shown_url,
    verdict,
)
from remi_ops.watch.watcher import Watcher
from tests.remi_ops.watch.pingkit import PingServer, ping_server, refused_url

HC = "https://hc-ping.com/5f3e1d0c-aaaa-bbbb-cccc-000000000001"
KUMA = "https://kuma.example/api/push/AbCdEf123456"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# ---------------------------------------------------------------------------- what is sent


@pytest.mark.parametrize(("url", "ping", "expected"), [
    (HC, Ping(PingKind.OK, "remi: healthy"), PingRequest("POST", HC, b"remi: healthy")),
    (HC + "/", Ping(PingKind.START), PingRequest("POST", HC + "/start")),
    (HC, Ping(PingKind.FAIL, "remi: down"), PingRequest("POST", HC + "/fail", b"remi: down")),
    (KUMA, Ping(PingKind.OK), PingRequest("GET", KUMA + "?status=up&msg=OK")),
    (KUMA + "?ping=", Ping(PingKind.FAIL, "remi: down"),
     PingRequest("GET", KUMA + "?ping=&status=down&msg=remi%3A+down")),
    (KUMA, Ping(PingKind.START), None),  # Uptime Kuma has no start
])
def test_a_ping_becomes_the_request_its_service_expects(url: str, ping: Ping,
                                                         expected: PingRequest | None) -> None:
    assert ping_request(url, ping) == expected


def report(target: str, status: Status, *reasons: str) -> HealthReport:
    return HealthReport(target, status, NOW,
                        findings=tuple(Finding(Check.PROCESS, status, r) for r in reasons))


def test_all_healthy_is_ok_and_a_target_not_checked_yet_says_nothing() -> None:
    ping = verdict([report("remi", Status.HEALTHY), None, report("other", Status.HEALTHY)])
    assert ping == Ping(PingKind.OK, "remi: healthy; other: healthy")


def test_a_sick_target_fails_with_one_redacted_line_saying_which_and_why() -> None:
    secret = "sk-live-0123456789abcdef"
    ping = verdict([report("remi", Status.HEALTHY),
                    report("other", Status.DOWN, f"process is not running\ntoken {secret}",
                           "second reason")], Redactor([secret]))
    assert ping.kind is PingKind.FAIL
    assert ping.body.startswith("other: down (process is not running token ")
    assert "\n" not in ping.body and secret not in ping.body and "remi" not in ping.body
    long = verdict([report("remi", Status.DOWN, "x" * 1000)])
    assert len(long.body) == BODY_MAX


def test_the_url_is_shown_without_its_credential() -> None:
    assert shown_url(HC) == "https://hc-ping.com/…"
    assert "AbCdEf" not in shown_url(KUMA)


def test_the_ping_url_is_a_known_secret_whole_and_by_its_path() -> None:
    redact = Redactor(config_secrets(HC))
    assert "5f3e1d0c" not in redact(f"posting to {HC}/fail")
    assert "5f3e1d0c" not in redact("a proxy logged /5f3e1d0c-aaaa-bbbb-cccc-000000000001")
    assert config_secrets("") == ()


def test_a_ping_wanted_while_one_waits_replaces_it_but_start_is_never_dropped() -> None:
    dead = DeadmanPing(HC, 1.0)
    dead.started()
    dead.want(Ping(PingKind.OK))
    dead.want(Ping(PingKind.FAIL, "remi: down"))
    dead.started()  # a second start is not a second /start
    assert dead.pending == [Ping(PingKind.START), Ping(PingKind.FAIL, "remi: down")]
    off = DeadmanPing("", 1.0)
    off.started()
    off.checked([report("remi", Status.DOWN)])
    assert off.pending == []


# ---------------------------------------------------------------------------- a real watcher

def fast_settings(tmp_path: Path, url: str, timeout_s: float = 5.0,
                  **target: Any) -> Settings:
    return sim_settings(tmp_path, watchdog={
        "check_interval_s": 0.5, "heartbeat_stale_s": 2, "state_dir": str(tmp_path / "state"),
        "heartbeat_url": url, "heartbeat_timeout_s": timeout_s}, target=target)


@asynccontextmanager
async def watching(settings: Settings) -> AsyncIterator[Watcher]:
    watcher = Watcher(settings, console=None, environ={})
    watcher.acquire_locks()
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        await until(lambda: watcher.watch(None).supervisor.state is State.RUNNING
                    and sims_in(settings.targets[0].workdir), what="remi running")
        yield watcher
        assert not task.done(), "the watcher stopped on its own"
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        watcher.close()


def beats(settings: Settings) -> set[str]:
    """The heartbeats seen so far in .bot_health (one per check)."""
    doc = read_health_file(settings.targets[0].health_file) or {}
    return {str(doc.get("watcher", {}).get("heartbeat_at"))}


async def checks_go_on(settings: Settings, count: int = 3, within_s: float = 20) -> None:
    """``count`` more checks happen (a new heartbeat each), with a generous bound."""
    seen: set[str] = set()

    def more() -> bool:
        seen.update(beats(settings))
        return len(seen) > count

    await until(more, timeout=within_s, what=f"{count} more checks")


@pytest.mark.integration
@pytest.mark.usefixtures("reap_sims")
async def test_start_then_ok_after_healthy_checks_then_fail_when_remi_is_down(
        tmp_path: Path) -> None:
    async with ping_server() as server:
        # a first crash waits 30 s before its restart: Remi stays down meanwhile
        settings = fast_settings(tmp_path, server.url, restart={"immediate_delay_s": 30})
        async with watching(settings) as watcher:
            await until(lambda: server.paths().count(f"/{token(server)}") >= 2,
                        what="ok pings after healthy checks")
            assert server.paths()[0] == f"/{token(server)}/start"
            ok = [h for h in server.hits if h.path == f"/{token(server)}"]
            assert ok[0].method == "POST" and ok[-1].body == "remi: healthy"
            pid = watcher.watch(None).supervisor.process
            assert pid is not None
            os.kill(pid.pid, signal.SIGKILL)
            fail = await until(lambda: [h for h in server.hits
                                        if h.path == f"/{token(server)}/fail"],
                               what="/fail once Remi is down")
            assert fail[0].body.startswith("remi: down"), fail[0]


@pytest.mark.integration
@pytest.mark.usefixtures("reap_sims")
async def test_fail_when_remi_is_hung(tmp_path: Path) -> None:
    async with ping_server() as server:
        settings = fast_settings(tmp_path, server.url)
        async with watching(settings):
            await until(lambda: f"/{token(server)}" in server.paths(), what="an ok ping")
            control(settings.targets[0].workdir, do="hang", seconds=3600)
            fail = await until(lambda: [h for h in server.hits
                                        if h.path == f"/{token(server)}/fail"],
                               timeout=20, what="/fail once Remi hangs")
            assert fail[0].body.startswith("remi: "), fail[0]
            assert "loop" in fail[0].body or "beacon" in fail[0].body, fail[0]


@pytest.mark.integration
@pytest.mark.usefixtures("reap_sims")
async def test_a_ping_server_that_refuses_never_delays_a_check_and_is_logged_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="remi_ops.watch.deadman")
    url = refused_url()
    settings = fast_settings(tmp_path, url)
    async with watching(settings):
        await checks_go_on(settings, count=4)
    warnings = [r.getMessage() for r in caplog.records
                if r.name == "remi_ops.watch.deadman" and r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings  # once per streak, not once per check
    assert "failed" in warnings[0] and "http://127.0.0.1/…" in warnings[0]
    assert not any("5f3e1d0c" in r.getMessage() for r in caplog.records)
    again = [r for r in caplog.records if "failed again" in r.getMessage()]
    assert again, "later pings were tried (and failed) too"


@pytest.mark.integration
@pytest.mark.usefixtures("reap_sims")
async def test_a_ping_server_that_never_answers_never_delays_a_check(tmp_path: Path) -> None:
    """Its answer comes long after the timeout: checks go on at their pace meanwhile,
    with one request in flight (later pings wait, coalesced, instead of piling up)."""
    async with ping_server(delay_s=60) as server:
        settings = fast_settings(tmp_path, server.url, timeout_s=12)
        async with watching(settings):
            # a check that waited on the ping would make one check per 12 s at best
            await checks_go_on(settings, count=4, within_s=10)
            assert server.paths()[:1] == [f"/{token(server)}/start"]
            in_flight_before_timeout = len(server.hits)
            await until(lambda: len(server.hits) >= 2, timeout=25,
                        what="the next ping once the first timed out")
            await checks_go_on(settings, count=2)
        assert in_flight_before_timeout == 1


def token(server: PingServer) -> str:
    return server.url.rsplit("/", 1)[1]
