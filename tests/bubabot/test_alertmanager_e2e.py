"""The Alertmanager receiver end to end: recorded payloads over real HTTP into a real SQLite
store, delivered by the real outbox and a real Bubabot to the emulated #quick-tasks; the
buttons against a stand-in Alertmanager API (an aiohttp app recording what it is asked)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from bubabot_local.emulator import Message
from bubabot_local.harness import OPERATOR, QUICK_TASKS, VIEWER, Harness, button
from bubabot_local.metricskit import free_port
from bubabot_local.stackkit import until

from bubabot.alertmanager_sink import AlertmanagerSink
from bubabot.alertmanager_view import AlertmanagerDesk, attach_desk
from remi_ops.alertmanager.receiver import AlertmanagerReceiver
from remi_ops.alertmanager.rows import AlertmanagerRows
from remi_ops.alerts.outbox import Outbox
from remi_ops.clock import SystemClock
from remi_ops.config import AlertmanagerSettings, AlertSettings
from remi_ops.store.database import Store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]

DATA = Path(__file__).parents[1] / "data" / "alertmanager"
TOKEN = "am-webhook-token-5c1e"
FAST = AlertSettings(retry_initial_s=0.05, retry_max_s=0.2)


@dataclass
class StandInAlertmanager:
    """Alertmanager's silences API, recording each request."""

    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    url: str = ""

    async def create(self, request: web.Request) -> web.Response:
        self.requests.append(("POST", request.path, await request.json()))
        return web.json_response({"silenceID": "5f0c1b2a-0000-4c1e-9d2b-aa00bb11cc22"})

    async def expire(self, request: web.Request) -> web.Response:
        self.requests.append(("DELETE", request.path, None))
        return web.Response(status=200)


@dataclass
class Front:
    receiver: AlertmanagerReceiver
    rows: AlertmanagerRows
    am: StandInAlertmanager
    http: aiohttp.ClientSession

    async def post(self, body: bytes | str, token: str | None = TOKEN) -> tuple[int, str]:
        url = f"http://{self.receiver.address}/alertmanager"
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        data = body.encode() if isinstance(body, str) else body
        async with self.http.post(url, data=data, headers=headers) as response:
            return response.status, await response.text()

    async def send(self, name: str) -> None:
        status, text = await self.post((DATA / name).read_bytes())
        assert (status, text) == (200, "stored\n")


@pytest.fixture
async def front(running: Harness, tmp_path: Path) -> AsyncIterator[Front]:
    am = StandInAlertmanager()
    api = web.Application()
    api.router.add_post("/api/v2/silences", am.create)
    api.router.add_delete("/api/v2/silence/{id}", am.expire)
    api_runner = web.AppRunner(api)
    await api_runner.setup()
    site = web.TCPSite(api_runner, "127.0.0.1", 0)
    await site.start()
    am.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    store = Store.open(tmp_path / "state.sqlite3", SystemClock())
    rows = AlertmanagerRows(store)
    outbox = Outbox(store, [AlertmanagerSink(running.bot, QUICK_TASKS, "bot")], SystemClock(),
                    settings=FAST)
    attach_desk(running.bot, AlertmanagerDesk(rows, AlertmanagerSettings(api_url=am.url)))
    receiver = AlertmanagerReceiver(rows, SystemClock(), TOKEN, on_stored=outbox.wake)
    await receiver.start("127.0.0.1:0")
    stop = asyncio.Event()
    # idle_s: a long nap, so a message arriving says the receiver woke the delivery loop
    delivery = asyncio.create_task(outbox.run(stop, idle_s=60))
    async with aiohttp.ClientSession() as http:
        yield Front(receiver, rows, am, http)
    stop.set()
    await delivery
    await receiver.stop()
    await api_runner.cleanup()
    store.close()


def group_messages(running: Harness) -> list[Message]:
    """The Alertmanager groups' messages in #quick-tasks."""
    return [m for m in running.channel() if m.embeds
            and "Alertmanager · group" in m.embeds[0].get("footer", {}).get("text", "")]


async def one_message(running: Harness, title: str) -> Message:
    """The group's only message, once its title reads ``title``."""
    def probe() -> Message | None:
        found = group_messages(running)
        assert len(found) <= 1, [m.embeds[0]["title"] for m in found]
        return found[0] if found and found[0].embeds[0]["title"] == title else None
    return await until(probe, 10, f"the group's message titled {title!r}")


async def test_a_group_is_one_message_edited_as_its_alerts_fire_and_resolve(
        running: Harness, front: Front) -> None:
    await front.send("firing.json")
    message = await one_message(running, "🔥 RemiLoopLag — 3 firing")
    assert {"Silence 1h", "Silence 4h", "Silence 24h", "Runbook: remi"} <= {
        c["label"] for row in message.components for c in row["components"]}
    await front.send("partly_resolved.json")
    message = await one_message(running, "🔥 RemiLoopLag — 2 firing, 1 resolved")
    fields = message.embeds[0]["fields"]
    [resolved] = [f for f in fields if f["name"].startswith("✅")]
    assert "mac-mini-2" in resolved["value"]
    assert sum(f["name"].startswith("🔥") for f in fields) == 2
    await front.send("resolved.json")
    message = await one_message(running, "✅ RemiLoopLag — resolved")
    assert message.edit_count >= 2
    assert all(f["name"].startswith("✅") for f in message.embeds[0]["fields"])
    assert not any(c["label"].startswith("Silence") for row in message.components
                   for c in row["components"])


async def test_many_alerts_stay_within_discords_limits_with_the_rest_attached(
        running: Harness, front: Front) -> None:
    """14 alerts recorded from Alertmanager, and 60 (over 25 fields): the emulator refuses
    an embed over Discord's limits, so a posted message is a message within them."""
    data = json.loads((DATA / "many_alerts.json").read_text())
    data["alerts"] = [dict(data["alerts"][0], fingerprint=f"{n:016x}",
                           labels=dict(data["alerts"][0]["labels"], instance=f"shard-{n:03d}"))
                      for n in range(60)]
    status, _ = await front.post(json.dumps(data))
    assert status == 200
    message = await one_message(running, "🔥 RemiErrorBurst — 60 firing")
    assert len(message.embeds) == 1 and len(message.embeds[0]["fields"]) == 25
    [attachment] = message.attachments
    assert attachment.filename.endswith(".txt")
    assert all(f"shard-{n:03d}" in attachment.text for n in range(60))


async def test_over_long_annotations_are_cut_in_the_embed_and_whole_in_the_file(
        running: Harness, front: Front) -> None:
    await front.send("long_annotations.json")
    message = await one_message(running, "🔥 RemiLongNotes — 1 firing")
    assert len(message.embeds[0]["description"]) <= 4096
    assert "D" * 5000 + " description end" in message.attachments[0].text


async def test_a_malformed_payload_gets_400_in_one_line_and_is_kept(
        running: Harness, front: Front) -> None:
    status, text = await front.post((DATA / "malformed.json").read_bytes())
    assert status == 400 and text.startswith("alerts.0.status: ") and text.count("\n") == 1
    status, text = await front.post("{truncated")
    assert status == 400 and "not JSON" in text
    kept = await asyncio.to_thread(front.rows.rejected)
    assert [reason for _, reason, _ in kept] == [text.strip(), kept[1][1]]
    assert kept[0][2] == "{truncated" and '"RemiLoopLag"' in kept[1][2]
    await asyncio.sleep(0.3)
    assert group_messages(running) == []


@pytest.mark.parametrize("token", [None, "wrong-token", ""])
async def test_a_missing_or_wrong_token_gets_401_and_nothing_is_stored(
        running: Harness, front: Front, token: str | None) -> None:
    status, text = await front.post((DATA / "firing.json").read_bytes(), token=token)
    assert (status, text) == (401, "missing or wrong bearer token\n")
    assert await asyncio.to_thread(front.rows.store.query,
                                   "SELECT * FROM alertmanager_groups") == []
    assert await asyncio.to_thread(front.rows.rejected) == []


async def test_silence_and_expire_reach_alertmanager_with_the_groups_matchers(
        running: Harness, front: Front) -> None:
    await front.send("firing.json")
    message = await one_message(running, "🔥 RemiLoopLag — 3 firing")
    refused = await running.click(message.id, button(message, "Silence 4h"), user=VIEWER)
    assert refused.ephemeral and front.am.requests == []
    clicked = await running.click(message.id, button(message, "Silence 4h"), user=OPERATOR)
    [(method, path, body)] = front.am.requests
    assert (method, path) == ("POST", "/api/v2/silences")
    assert body["matchers"] == [
        {"name": k, "value": v, "isRegex": False, "isEqual": True}
        for k, v in sorted({"alertname": "RemiLoopLag", "bot": "remi", "job": "remi-ops",
                            "severity": "page"}.items())]
    assert body["createdBy"] == f"discord:{OPERATOR} (jordan)"
    [answer] = clicked.messages()
    assert "silenced **RemiLoopLag** for 4h" in answer.content and not clicked.ephemeral
    expire = button(answer, "Expire silence")
    assert expire.endswith(":5f0c1b2a-0000-4c1e-9d2b-aa00bb11cc22")
    expired = await running.click(answer.id, expire, user=OPERATOR)
    assert front.am.requests[1][:2] == (
        "DELETE", "/api/v2/silence/5f0c1b2a-0000-4c1e-9d2b-aa00bb11cc22")
    assert "expired silence" in expired.messages()[0].content
    results = [(a.action, a.result) for a in running.service.audits]
    assert results[:2] == [("alertmanager silence", "refused: Only operators (<@&"
                            f"{running.settings.operator_role_ids[0]}>) may do this."),
                           ("alertmanager silence", "requested")]
    assert ("alertmanager silence", "silence 5f0c1b2a-0000-4c1e-9d2b-aa00bb11cc22 for 4h") \
        in results
    assert results[-2:] == [("alertmanager expire silence", "requested"),
                            ("alertmanager expire silence", "expired")]


async def test_an_unreachable_alertmanager_is_one_line_not_a_traceback(
        running: Harness, front: Front) -> None:
    await front.send("firing.json")
    message = await one_message(running, "🔥 RemiLoopLag — 3 firing")
    attach_desk(running.bot, AlertmanagerDesk(front.rows, AlertmanagerSettings(
        api_url="http://127.0.0.1:9")))
    clicked = await running.click(message.id, button(message, "Silence 1h"))
    [answer] = clicked.messages()
    assert answer.content.startswith("⚠️ Could not silence RemiLoopLag: cannot reach "
                                     "Alertmanager at http://127.0.0.1:9")
    assert running.service.audits[-1].ok is False


async def test_runbook_shows_health_and_errors_of_a_known_target_only(
        running: Harness, front: Front) -> None:
    await front.send("firing.json")
    message = await one_message(running, "🔥 RemiLoopLag — 3 firing")
    clicked = await running.click(message.id, button(message, "Runbook"), user=VIEWER)
    [answer] = clicked.messages()
    assert clicked.ephemeral and len(answer.embeds) == 2
    assert answer.embeds[1]["title"].startswith("Error groups on remi")
    assert [c.method for c in running.service.calls] == ["health", "errors"]
    data = json.loads((DATA / "firing.json").read_text())
    data["groupKey"] = '{}:{alertname="RemiOnKube"}'
    data["commonLabels"] = dict(data["commonLabels"], alertname="RemiOnKube", bot="kube-remi-7")
    assert (await front.post(json.dumps(data)))[0] == 200
    other = await until(lambda: next((m for m in group_messages(running)
                                      if "RemiOnKube" in m.embeds[0]["title"]), None), 10)
    unknown = await running.click(other.id, "bubabot:am-runbook:kube-remi-7")
    assert "`kube-remi-7` is not a target this Bubabot supervises" in \
        unknown.messages()[0].content


async def test_the_buttons_work_on_a_message_an_earlier_bubabot_posted(
        running: Harness, front: Front) -> None:
    await front.send("firing.json")
    message = await one_message(running, "🔥 RemiLoopLag — 3 firing")
    await running.stop_bot()
    await running.start_bot()
    attach_desk(running.bot, AlertmanagerDesk(front.rows, AlertmanagerSettings(
        api_url=front.am.url)))
    clicked = await running.click(message.id, button(message, "Silence 1h"))
    assert "silenced **RemiLoopLag** for 1h" in clicked.messages()[0].content
    assert [r[:2] for r in front.am.requests] == [("POST", "/api/v2/silences")]


# --------------------------------------------------------------------- the real Alertmanager

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
needs_alertmanager = pytest.mark.skipif(
    ALERTMANAGER is None, reason="needs the Alertmanager binary (Debian package "
    "prometheus-alertmanager: apt-get install prometheus-alertmanager; .ci/run installs it "
    "when it can)")




@pytest.fixture
async def alertmanager(front: Front, tmp_path: Path) -> AsyncIterator[str]:
    """A real Alertmanager on 127.0.0.1, no rules, routing every alert to the receiver
    with the bearer token; its base URL."""
    assert ALERTMANAGER is not None
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(f"""
route:
  receiver: bubabot
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: bubabot
    webhook_configs:
      - url: http://{front.receiver.address}/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: {TOKEN}
""")
    url = f"http://127.0.0.1:{port}"
    process = await asyncio.create_subprocess_exec(
        ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'am-data'}",
        "--cluster.listen-address=", f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url={url}", stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)

    async def ready() -> bool:
        with contextlib.suppress(aiohttp.ClientError):
            async with front.http.get(f"{url}/-/ready") as response:
                return response.status == 200
        return False
    for _ in range(100):
        if await ready():
            break
        await asyncio.sleep(0.1)
    yield url
    process.terminate()
    await process.wait()


@needs_alertmanager
@pytest.mark.timeout(60)
async def test_the_real_alertmanager_posts_the_group_and_the_silence_round_trips(
        running: Harness, front: Front, alertmanager: str) -> None:
    """Alerts pushed through Alertmanager's API arrive as one message; the Silence button
    creates a silence Alertmanager lists as active (its externalURL is the API used), and
    Expire silence expires it there."""
    attach_desk(running.bot, AlertmanagerDesk(front.rows, AlertmanagerSettings()))
    alerts = [{"labels": {"alertname": "RemiDown", "bot": "remi", "instance": host},
               "annotations": {"summary": f"remi-ops on {host} stopped answering"}}
              for host in ("mac-mini-1", "mac-mini-2")]
    async with front.http.post(f"{alertmanager}/api/v2/alerts", json=alerts) as response:
        assert response.status == 200
    message = await until(lambda: next((m for m in group_messages(running)
                                        if m.embeds[0]["title"] == "🔥 RemiDown — 2 firing"),
                                       None), 30, "Alertmanager's notification in Discord")
    clicked = await running.click(message.id, button(message, "Silence 1h"))
    answer = clicked.messages()[0]
    silence_id = button(answer, "Expire silence").rpartition(":")[2]
    async with front.http.get(f"{alertmanager}/api/v2/silence/{silence_id}") as response:
        silence = await response.json()
    assert silence["status"]["state"] == "active"
    assert silence["createdBy"] == f"discord:{OPERATOR} (jordan)"
    assert {(m["name"], m["value"]) for m in silence["matchers"]} == {
        ("alertname", "RemiDown"), ("bot", "remi")}
    await running.click(answer.id, button(answer, "Expire silence"))
    async with front.http.get(f"{alertmanager}/api/v2/silence/{silence_id}") as response:
        assert (await response.json())["status"]["state"] == "expired"
