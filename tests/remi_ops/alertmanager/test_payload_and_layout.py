"""The webhook payload (recorded from a real Alertmanager 0.25) and its Discord layout:
parsed tolerantly, merged per fingerprint, laid out within Discord's limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from remi_ops.alertmanager.groups import GroupState, group_id, merge
from remi_ops.alertmanager.layout import (
    DESCRIPTION_MAX,
    EMBED_TOTAL_MAX,
    FIELD_NAME_MAX,
    FIELD_VALUE_MAX,
    FIELDS_MAX,
    TITLE_MAX,
    layout,
)
from remi_ops.alertmanager.payload import PayloadRejected, WebhookPayload, parse_payload
from remi_ops.alertmanager.receiver import TOKEN_ENV, webhook_token
from remi_ops.config import AlertmanagerSettings
from remi_ops.exceptions import ConfigError

DATA = Path(__file__).parents[2] / "data" / "alertmanager"


def body(name: str) -> bytes:
    return (DATA / name).read_bytes()


def payload(name: str) -> WebhookPayload:
    return parse_payload(body(name))


def embed_size(embed: dict[str, Any]) -> int:
    return (len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
            + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"]))


def assert_within_discord_limits(embed: dict[str, Any]) -> None:
    assert len(embed["title"]) <= TITLE_MAX
    assert len(embed["description"]) <= DESCRIPTION_MAX
    assert len(embed["fields"]) <= FIELDS_MAX
    for f in embed["fields"]:
        assert len(f["name"]) <= FIELD_NAME_MAX and len(f["value"]) <= FIELD_VALUE_MAX
    assert embed_size(embed) <= EMBED_TOTAL_MAX


def test_a_recorded_payload_parses_with_every_field() -> None:
    p = payload("firing.json")
    assert p.status == "firing" and p.groupKey.startswith("{}:")
    assert p.commonLabels["alertname"] == "RemiLoopLag"
    assert p.externalURL.startswith("http://127.0.0.1:")
    assert len(p.alerts) == 3 and all(len(a.fingerprint) == 16 for a in p.alerts)
    assert all(a.ended_at is None for a in p.alerts)  # Go's zero time: not ended


def test_unknown_fields_and_missing_optional_ones_are_tolerated() -> None:
    data = json.loads(body("firing.json"))
    data.pop("truncatedAlerts", None)
    data.pop("commonAnnotations")
    data["notification_reason"] = "new_alerts"
    data["alerts"][0]["future_field"] = {"x": 1}
    data["alerts"][0]["startsAt"] = "2026-11-30T02:40:03.555327123Z"  # Go's nanoseconds
    p = parse_payload(json.dumps(data).encode())
    assert p.commonAnnotations == {} and p.truncatedAlerts == 0


@pytest.mark.parametrize(("raw", "says"), [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (json.dumps({"version": "3", "groupKey": "g", "status": "firing", "alerts": []}).encode(),
     "version '3'"),
])
def test_a_body_that_is_no_payload_is_refused_in_one_line(raw: bytes, says: str) -> None:
    with pytest.raises(PayloadRejected, match=says) as info:
        parse_payload(raw)
    assert "\n" not in info.value.reason


def test_the_recorded_malformed_payload_names_the_first_bad_field() -> None:
    with pytest.raises(PayloadRejected, match=r"^alerts\.0\.status: ") as info:
        parse_payload(body("malformed.json"))
    assert "\n" not in info.value.reason


def test_a_partly_resolved_group_shows_which_alert_resolved() -> None:
    state = merge(merge(None, payload("firing.json")), payload("partly_resolved.json"))
    assert (state.firing, state.resolved) == (2, 1)
    embed = layout(state).embed
    resolved = [f for f in embed["fields"] if "resolved" in f["name"]]
    assert len(resolved) == 1 and "mac-mini-2" in resolved[0]["value"]
    assert embed["title"] == "🔥 RemiLoopLag — 2 firing, 1 resolved"


def test_an_alert_dropped_after_its_resolution_stays_resolved_in_the_group() -> None:
    """Alertmanager's last notification no longer carries mac-mini-2 (resolved earlier)."""
    state = None
    for name in ("firing.json", "partly_resolved.json", "resolved.json"):
        state = merge(state, payload(name))
    assert state is not None and len(payload("resolved.json").alerts) == 2
    assert (state.firing, state.resolved) == (0, 3)
    message = layout(state)
    assert message.embed["title"] == "✅ RemiLoopLag — resolved"
    assert message.attachment is None


def test_more_alerts_than_fit_stay_within_limits_and_all_are_in_the_attachment() -> None:
    p = payload("many_alerts.json")
    data = json.loads(body("many_alerts.json"))
    data["alerts"] = [dict(a, fingerprint=f"{n:016x}",
                           labels=dict(a["labels"], instance=f"shard-{n:03d}"))
                      for n in range(60) for a in data["alerts"][:1]]
    big = parse_payload(json.dumps(data).encode())
    for p in (payload("many_alerts.json"), big):
        message = layout(merge(None, p))
        assert_within_discord_limits(dict(message.embed))
    assert len(message.embed["fields"]) == FIELDS_MAX
    assert message.attachment is not None
    assert all(f"shard-{n:03d}" in message.attachment for n in range(60))
    assert "35 more alert(s) in alertmanager-" in message.embed["footer"]["text"]


def test_over_long_annotations_are_cut_and_kept_whole_in_the_attachment() -> None:
    message = layout(merge(None, payload("long_annotations.json")))
    assert_within_discord_limits(dict(message.embed))
    assert message.embed["description"].endswith("…")
    assert message.attachment is not None
    assert "D" * 5000 + " description end" in message.attachment
    assert "full text in" in message.embed["footer"]["text"]


def test_group_state_survives_its_json_round_trip() -> None:
    state = merge(None, payload("partly_resolved.json"))
    again = GroupState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state and again.group_id == group_id(state.group_key)


@pytest.mark.parametrize(("listen", "says"), [
    ("9809", "must be host:port"), ("127.0.0.1:0", "from 1 to 65535")])
def test_a_bad_listen_address_is_one_config_line(listen: str, says: str) -> None:
    with pytest.raises(ValueError, match=f"^listen: .*{says}"):
        AlertmanagerSettings(listen=listen)


@pytest.mark.parametrize(("field", "value", "says"), [
    ("target_label", "my-label", "must be a Prometheus label name"),
    ("api_url", "ftp://am", "must be an http:// or https:// URL")])
def test_a_bad_label_or_api_url_says_what_it_must_be(field: str, value: str, says: str) -> None:
    """What the value must look like, never a regex."""
    with pytest.raises(msgspec.ValidationError, match=f"^{field}: {says}"):
        AlertmanagerSettings.parse({field: value})


def test_the_token_may_only_be_missing_on_loopback() -> None:
    assert webhook_token({}, "127.0.0.1:9809") is None
    assert webhook_token({}, "[::1]:9809") is None
    assert webhook_token({TOKEN_ENV: " t0k "}, "0.0.0.0:9809") == "t0k"
    with pytest.raises(ConfigError, match=r"^alertmanager.listen: 10.0.0.5:9809 is reachable"):
        webhook_token({}, "10.0.0.5:9809")


def test_a_secret_in_an_annotation_reaches_neither_store_nor_discord() -> None:
    data = json.loads(body("firing.json"))
    data["commonAnnotations"] = {"description": "login failed with password=hunter2hunter2"}
    data["alerts"][0]["annotations"] = {"summary": "Authorization: Bearer abcdef0123456789xyz"}
    state = merge(None, parse_payload(json.dumps(data).encode()))
    text = json.dumps(state.to_dict()) + json.dumps(dict(layout(state).embed))
    assert "hunter2" not in text and "abcdef0123456789xyz" not in text
    assert "[REDACTED:key_value]" in text
