"""The store's side of the receiver: groups, their outbox rows, and refused payloads.

A notification is durable before Alertmanager gets its 200: the merged group and an outbox
row for the ``alertmanager`` sink are written in one transaction, so the outbox (retries,
backoff, ``Retry-After``, edits in order per message) delivers it even if Bubabot dies
right after answering. A refused payload is kept as received (cut at 256 KiB, secrets
redacted) with the reason, for ``sqlite3 state.sqlite3 'SELECT * FROM alertmanager_rejected'``.

Blocking calls: the receiver runs them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from remi_ops.alertmanager.groups import GroupState, group_id, merge
from remi_ops.alertmanager.payload import WebhookPayload
from remi_ops.alerts.model import Notification, NotificationType
from remi_ops.domain import Severity
from remi_ops.logs.redact import redact_patterns
from remi_ops.store.database import Store
from remi_ops.store.records import encode_json, encode_time

#: the outbox sink that posts groups to Discord (``bubabot.alertmanager_view``)
SINK = "alertmanager"
#: how much of a refused body is kept
REJECTED_KEEP = 256 * 1024


def notification_of(state: GroupState, now: datetime) -> Notification:
    """The outbox row's payload: the merged group rides in ``details``."""
    return Notification(
        id=uuid.uuid4().hex, type=NotificationType.UPDATE, group_key=state.group_key,
        target="alertmanager", message_key=f"am:{state.group_id}",
        thread_key=f"am:{state.group_id}",
        severity=Severity.WARNING if state.firing else Severity.INFO,
        title=state.common_labels.get("alertname", ""), lines=(), alerts=(), created_at=now,
        counts={"firing": state.firing, "resolved": state.resolved},
        details={"alertmanager": state.to_dict()})


class AlertmanagerRows:
    """Typed access to ``alertmanager_groups`` and ``alertmanager_rejected``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def receive(self, payload: WebhookPayload, now: datetime) -> GroupState:
        """Merge ``payload`` into its group and queue the message, atomically."""
        with self.store.transaction() as tx:
            gid = group_id(payload.groupKey)
            row = tx.execute("SELECT payload FROM alertmanager_groups WHERE group_id = ?",
                             (gid,)).fetchone()
            previous = GroupState.from_dict(json.loads(row[0])) if row else None
            state = merge(previous, payload)
            at = encode_time(now)
            tx.execute("INSERT INTO alertmanager_groups (group_id, group_key, payload, "
                       "updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (group_id) DO UPDATE SET "
                       "payload = excluded.payload, updated_at = excluded.updated_at",
                       (gid, payload.groupKey, encode_json(state.to_dict()), at))
            n = notification_of(state, now)
            tx.execute("INSERT INTO outbox (notification_id, sink, message_key, payload, "
                       "created_at) VALUES (?, ?, ?, ?, ?)",
                       (n.id, SINK, n.message_key, encode_json(n.to_dict()), at))
        return state

    def group(self, gid: str) -> GroupState | None:
        rows = self.store.query("SELECT payload FROM alertmanager_groups WHERE group_id = ?",
                                (gid,))
        return GroupState.from_dict(json.loads(rows[0][0])) if rows else None

    def reject(self, body: bytes, reason: str, now: datetime) -> int:
        """Keep a refused body with why; returns its row id."""
        text = str(redact_patterns(body[:REJECTED_KEEP].decode("utf-8", errors="replace")))
        with self.store.transaction() as tx:
            cur = tx.execute("INSERT INTO alertmanager_rejected (received_at, reason, body) "
                             "VALUES (?, ?, ?)", (encode_time(now), reason[:500], text))
            return int(cur.lastrowid or 0)

    def rejected(self, limit: int = 20) -> list[tuple[int, str, str]]:
        """(id, reason, body) of the latest refused payloads, newest first."""
        rows = self.store.query("SELECT id, reason, body FROM alertmanager_rejected "
                                "ORDER BY id DESC LIMIT ?", (limit,))
        return [(r["id"], r["reason"], r["body"]) for r in rows]
