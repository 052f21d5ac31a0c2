"""Wiring of the Alertmanager receiver into a running Bubabot (``[alertmanager] listen``).

The receiver stores each notification with an outbox row for the ``alertmanager`` sink; a
second ``Outbox`` over the watcher's store delivers only those rows (one delivery loop,
so a slow Alertmanager group never delays Remi's own alerts, and vice versa), and is woken
as soon as a notification is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from bubabot.alertmanager_sink import AlertmanagerSink
from bubabot.alertmanager_view import AlertmanagerDesk, attach_desk
from bubabot.bot import Bubabot
from remi_ops.alertmanager.receiver import AlertmanagerReceiver, webhook_token
from remi_ops.alertmanager.rows import AlertmanagerRows
from remi_ops.alerts.outbox import Outbox
from remi_ops.clock import Clock
from remi_ops.config import Settings
from remi_ops.store.database import Store


@dataclass
class AlertmanagerFront:
    """The receiver and the outbox that posts its groups."""

    listen: str
    receiver: AlertmanagerReceiver
    outbox: Outbox

    def background(self, stopping: asyncio.Event) -> asyncio.Task[None]:
        return asyncio.create_task(self.outbox.run(stopping), name="alertmanager delivery")

    async def start(self) -> None:
        await self.receiver.start(self.listen)

    async def stop(self) -> None:
        await self.receiver.stop()
        self.outbox.close()


def build_front(settings: Settings, store: Store, clock: Clock, bot: Bubabot,
                environ: Mapping[str, str]) -> AlertmanagerFront | None:
    """None when ``[alertmanager] listen`` is empty; ``ConfigError`` for a missing token on
    an address other hosts can reach."""
    am = settings.alertmanager
    if not am.listen:
        return None
    token = webhook_token(environ, am.listen)
    rows = AlertmanagerRows(store)
    sink = AlertmanagerSink(bot, settings.discord.alert_channel_id, am.target_label)
    outbox = Outbox(store, [sink], clock, settings=settings.alerts)
    attach_desk(bot, AlertmanagerDesk(rows, am))
    receiver = AlertmanagerReceiver(rows, clock, token, on_stored=outbox.wake)
    return AlertmanagerFront(am.listen, receiver, outbox)
