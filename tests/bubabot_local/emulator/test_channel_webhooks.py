"""Channel webhooks as Discord serves them: execute, edit, look up, limits, and rate limits."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from bubabot_local.emulator import DiscordEmulator
from bubabot_local.emulatorkit import GUILD, QUICK_TASKS

pytestmark = [pytest.mark.integration, pytest.mark.timeout(15)]


async def call(method: str, url: str, body: Any = None,
               params: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.request(
            method, url, json=body, params=params) as response:
        doc = await response.json(content_type=None) if response.status != 204 else None
        return response.status, doc, dict(response.headers)


async def test_execute_edit_and_delete_a_webhook_message(emulator: DiscordEmulator) -> None:
    hook = emulator.add_channel_webhook(QUICK_TASKS, "alerts")
    status, posted, _ = await call("POST", hook.url, {
        "content": "hi", "embeds": [{"title": "t"}], "components": [{"type": 1}],
        "message_reference": {"message_id": "1"}}, {"wait": "true"})
    assert status == 200 and posted["webhook_id"] == str(hook.id)
    assert posted["author"]["username"] == "alerts" and "message_reference" not in posted
    [message] = emulator.messages(QUICK_TASKS)
    assert message.components == [] and message.reference_id is None
    status, edited, _ = await call("PATCH", f"{hook.url}/messages/{posted['id']}",
                                   {"embeds": [{"title": "t2"}]})
    assert status == 200 and edited["embeds"] == [{"title": "t2"}] and edited["content"] == "hi"
    assert message.edit_count == 1
    assert (await call("POST", hook.url, {"content": "no wait"}))[0] == 204
    assert (await call("DELETE", f"{hook.url}/messages/{posted['id']}"))[0] == 204
    assert [m.content for m in emulator.messages(QUICK_TASKS)] == ["no wait"]


async def test_the_webhook_object_says_where_it_posts(emulator: DiscordEmulator) -> None:
    hook = emulator.add_channel_webhook(QUICK_TASKS)
    status, doc, _ = await call("GET", hook.url)
    assert status == 200 and (doc["guild_id"], doc["channel_id"]) == (str(GUILD),
                                                                      str(QUICK_TASKS))


async def test_a_wrong_token_or_another_webhooks_message_is_unknown(
        emulator: DiscordEmulator) -> None:
    hook = emulator.add_channel_webhook(QUICK_TASKS)
    other = emulator.add_channel_webhook(QUICK_TASKS, "other")
    _, posted, _ = await call("POST", other.url, {"content": "x"}, {"wait": "true"})
    status, doc, _ = await call("POST", hook.url[:-3] + "xyz", {"content": "x"})
    assert (status, doc["code"]) == (404, 10015)
    status, doc, _ = await call("PATCH", f"{hook.url}/messages/{posted['id']}", {"content": "y"})
    assert (status, doc["code"]) == (404, 10008)


async def test_discords_message_limits_apply(emulator: DiscordEmulator) -> None:
    hook = emulator.add_channel_webhook(QUICK_TASKS)
    status, doc, _ = await call("POST", hook.url, {"content": "x" * 2001})
    assert (status, doc["code"]) == (400, 50035)
    status, doc, _ = await call("POST", hook.url, {"embeds": [{"title": "t"}] * 11})
    assert (status, doc["code"]) == (400, 50035)
    assert emulator.messages(QUICK_TASKS) == []


@pytest.mark.parametrize("global_limit", [False, True])
async def test_rate_limits_on_webhook_routes(emulator: DiscordEmulator,
                                             global_limit: bool) -> None:
    hook = emulator.add_channel_webhook(QUICK_TASKS)
    emulator.fail_next(1, status=429, retry_after=1.5, route_prefix="/webhooks/",
                       global_limit=global_limit)
    status, doc, headers = await call("POST", hook.url, {"content": "x"})
    assert status == 429 and doc["retry_after"] == 1.5 and doc["global"] is global_limit
    assert headers["Retry-After"] == "2"
    assert (headers.get("X-RateLimit-Global") == "true") is global_limit
    assert (await call("POST", hook.url, {"content": "x"}))[0] == 204
