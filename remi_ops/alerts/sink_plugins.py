"""Sinks that other packages offer to the watcher, through the ``remi_ops.sinks`` entry points.

The engine never imports Discord; Bubabot's webhook sink (``bubabot.webhook_env``) reaches
``remi-ops watch`` this way. A factory takes (settings, environment) and returns a sink, or
None when it is not configured there. A sink that answers earlier alerts
(``RepliesToAlerts``) learns where this outbox delivered them.

Which sinks a notification goes to is decided when it is written (one outbox row per sink),
so a command line acting without a watcher that has a plug-in sink delivers through it at
once and leaves nothing for Bubabot's bot sink: the same notice is never posted twice.

The entry points are read by :mod:`remi_ops.alerts.plugin_entry_points`, which spares a
watcher ``importlib.metadata`` where the installed files are plain to read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from remi_ops.alerts.plugin_entry_points import entry_points_of
from remi_ops.exceptions import RemiOpsError

if TYPE_CHECKING:  # not imported: a watch finds its plug-in sinks before asyncio (cli.tls_features)
    from remi_ops.alerts.outbox import Outbox, Sink
    from remi_ops.config import Settings

SINKS_GROUP = "remi_ops.sinks"
#: the sinks the watcher builds itself (``remi_ops.watch.watcher``)
BUILT_IN = frozenset({"file", "console"})


@runtime_checkable
class RepliesToAlerts(Protocol):
    """A sink that links an event to the alert it follows, by that alert's message ref."""

    name: str

    def resolve_replies_with(self, message_ref: Callable[[str], str | None]) -> None: ...


def extra_sinks(settings: Settings, environ: Mapping[str, str]) -> list[Sink]:
    """Every sink a plug-in offers for this configuration and environment."""
    found: list[Sink] = []
    for entry in entry_points_of(SINKS_GROUP):
        try:
            factory = entry.load()
        except Exception as exc:  # any import failure: one clear line
            raise RemiOpsError(f"the {entry.name} alert sink cannot be loaded: {exc!r}") \
                from None
        sink = factory(settings, environ)
        if sink is not None:
            found.append(sink)
    return found


def connect_replies(outbox: Outbox) -> None:
    """Let each sink that links to earlier alerts read its own refs from the store."""
    for sink in outbox.sinks:
        if isinstance(sink, RepliesToAlerts):
            sink.resolve_replies_with(functools.partial(outbox.rows.ref, sink.name))


def plugged_in(outbox: Outbox) -> list[str]:
    """The names of the outbox's sinks that came from plug-ins."""
    return [sink.name for sink in outbox.sinks if sink.name not in BUILT_IN]
