"""The Alertmanager webhook payload (version 4), as Alertmanager sends it.

The shape is Alertmanager's ``notify/webhook.Message`` (``template.Data`` plus ``version``,
``groupKey`` and ``truncatedAlerts``). Unknown fields are ignored and optional ones may be
missing (``truncatedAlerts`` and ``notification_reason`` are absent before 0.26): a
newer or older Alertmanager must not have its notifications refused. What cannot be
shown (no ``groupKey``, an alert without ``fingerprint`` or ``status``) is refused with
one line saying which field, so the 400 tells the operator what to fix.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

import msgspec

#: an alert that has not ended carries Go's zero time as its ``endsAt``
GO_ZERO_YEAR = 1


class _Model(msgspec.Struct, frozen=True, kw_only=True):
    """Frozen; unknown fields ignored (msgspec's default)."""


class AmAlert(_Model, frozen=True, kw_only=True):
    """One alert of the group, as of this notification."""

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    annotations: dict[str, str] = msgspec.field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]

    @property
    def name(self) -> str:
        return self.labels.get("alertname", self.fingerprint)

    @property
    def ended_at(self) -> datetime | None:
        """When a resolved alert ended (Go's zero time means "not yet")."""
        if self.endsAt is None or self.endsAt.year <= GO_ZERO_YEAR:
            return None
        return self.endsAt


class WebhookPayload(_Model, frozen=True, kw_only=True):
    """One notification of one aggregation group."""

    version: str = "4"
    groupKey: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = msgspec.field(default_factory=dict)
    commonLabels: dict[str, str] = msgspec.field(default_factory=dict)
    commonAnnotations: dict[str, str] = msgspec.field(default_factory=dict)
    externalURL: str = ""
    alerts: Annotated[tuple[AmAlert, ...], msgspec.Meta(min_length=1)]
    truncatedAlerts: int = 0


#: msgspec's ``[0]`` in a path, written ``.0`` as the 400 has always named it
_WHERE_STEP = re.compile(r"\[(\d+)\]")


class PayloadRejected(ValueError):
    """The body is not a version-4 webhook payload; ``reason`` is one line for the 400."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def parse_payload(body: bytes) -> WebhookPayload:
    """The payload in ``body``, or ``PayloadRejected`` naming the first thing wrong."""
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise PayloadRejected(f"the body is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PayloadRejected("the body is not a JSON object (an Alertmanager webhook "
                              "payload was expected)")
    version = str(data.get("version", "4"))
    if version != "4":
        raise PayloadRejected(f"webhook payload version {version!r} is not supported "
                              "(version 4 is)")
    try:
        return msgspec.convert(data, type=WebhookPayload)
    except msgspec.ValidationError as exc:  # "Expected `str` … - at `$.alerts[0].status`"
        what, at, path = str(exc).rpartition(" - at `")
        where = _WHERE_STEP.sub(r".\1", path.rstrip("`").removeprefix("$")).lstrip(".")
        raise PayloadRejected(f"{where or 'payload'}: {what if at else exc}") from None
