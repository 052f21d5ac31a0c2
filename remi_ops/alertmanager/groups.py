"""One Alertmanager group as Bubabot shows it: every alert's last status, by fingerprint.

Alertmanager sends the whole group on each notification, but drops an alert from the group
once its resolution was sent; so the group is merged, not replaced: an alert missing from
a later notification keeps the status it last had (a partly resolved group keeps showing
which alert resolved). The result is plain JSON-able data, stored with the group and
carried by the outbox row, so the Discord side renders exactly what was received.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from remi_ops.alertmanager.payload import AmAlert, WebhookPayload
from remi_ops.logs.redact import redact_patterns

#: alerts kept per group; beyond it the oldest resolved ones are forgotten first
MAX_ALERTS = 500


def group_id(group_key: str) -> str:
    """A short, stable id for a ``groupKey`` (which is long and full of quotes): the
    message key of the group's Discord message, and what its buttons carry."""
    return hashlib.sha256(group_key.encode()).hexdigest()[:32]


def redacted(annotations: Mapping[str, str]) -> dict[str, str]:
    """Annotations are free text a rule author wrote (templated from labels and values): a
    secret in one must reach neither the store nor Discord. Labels are kept as sent, since
    silences match on them exactly."""
    return {k: str(redact_patterns(v)) for k, v in annotations.items()}


def _alert_record(alert: AmAlert) -> dict[str, Any]:
    return {"fingerprint": alert.fingerprint, "status": alert.status, "name": alert.name,
            "labels": dict(alert.labels), "annotations": redacted(alert.annotations),
            "starts_at": alert.startsAt.isoformat() if alert.startsAt else None,
            "ends_at": alert.ended_at.isoformat() if alert.ended_at else None,
            "generator_url": alert.generatorURL}


@dataclass(frozen=True, slots=True)
class GroupState:
    """The merged group: what its Discord message shows."""

    group_id: str
    group_key: str
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str
    truncated: int
    alerts: tuple[Mapping[str, Any], ...]  # firing first, then resolved; by start time

    @property
    def firing(self) -> int:
        return sum(1 for a in self.alerts if a["status"] == "firing")

    @property
    def resolved(self) -> int:
        return len(self.alerts) - self.firing

    @property
    def status(self) -> str:
        return "firing" if self.firing else "resolved"

    def to_dict(self) -> dict[str, Any]:
        return {"group_id": self.group_id, "group_key": self.group_key,
                "group_labels": dict(self.group_labels),
                "common_labels": dict(self.common_labels),
                "common_annotations": dict(self.common_annotations),
                "external_url": self.external_url, "truncated": self.truncated,
                "alerts": [dict(a) for a in self.alerts]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupState:
        return cls(group_id=data["group_id"], group_key=data["group_key"],
                   group_labels=data["group_labels"], common_labels=data["common_labels"],
                   common_annotations=data["common_annotations"],
                   external_url=data["external_url"], truncated=int(data["truncated"]),
                   alerts=tuple(data["alerts"]))


def merge(previous: GroupState | None, payload: WebhookPayload) -> GroupState:
    """``previous`` updated by ``payload``: its alerts win, the others keep their status."""
    by_fingerprint: dict[str, Mapping[str, Any]] = {}
    if previous is not None:
        by_fingerprint = {a["fingerprint"]: a for a in previous.alerts}
    for alert in payload.alerts:
        by_fingerprint[alert.fingerprint] = _alert_record(alert)
    ordered = sorted(by_fingerprint.values(),
                     key=lambda a: (a["status"] != "firing", a["starts_at"] or "",
                                    a["fingerprint"]))
    if len(ordered) > MAX_ALERTS:
        firing = [a for a in ordered if a["status"] == "firing"]
        resolved = [a for a in ordered if a["status"] != "firing"]
        keep = max(MAX_ALERTS - len(firing), 0)
        ordered = firing[:MAX_ALERTS] + (resolved[-keep:] if keep else [])
    return GroupState(group_id=group_id(payload.groupKey), group_key=payload.groupKey,
                      group_labels=dict(payload.groupLabels),
                      common_labels=dict(payload.commonLabels),
                      common_annotations=redacted(payload.commonAnnotations),
                      external_url=payload.externalURL, truncated=payload.truncatedAlerts,
                      alerts=tuple(ordered))
