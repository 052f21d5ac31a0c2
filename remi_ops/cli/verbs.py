"""How the command line runs a runbook verb: in the running watcher, or itself.

Only one process supervises a target (the singleton lock). When a watcher holds it, the
verb goes to that watcher through the spool and its value comes back as JSON. When
nobody does, the command line becomes that process for a moment: it assembles the same
``Watcher`` under the lock, lets the target ``attach`` (restore the persisted supervisor,
adopt a running Remi, start nothing), runs the very same verb, delivers what it caused,
and lets go. Either way the supervisor records what happened, exactly as it would in
the watcher, so a later ``start`` — with or without a watcher — undoes a ``stop``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from remi_ops.alerts.sink_plugins import connect_replies, extra_sinks, plugged_in
from remi_ops.cli.common import who
from remi_ops.config import Settings
from remi_ops.exceptions import LockHeld, WatcherError
from remi_ops.watch import spool, verb_calls
from remi_ops.watch.presence import stuck_watcher, watcher_running
from remi_ops.watch.serve import orphan_fate
from remi_ops.watch.watcher import Watcher

REQUEST_TIMEOUT_S = 90.0  # a restart stops with a grace period, then waits for the start
POLL_S = 0.1
#: the name of Bubabot's Discord sink (``bubabot.sink``), whose rows a command line leaves
DISCORD_SINK = "discord"


@dataclass(frozen=True, slots=True)
class Ask:
    """One verb for one target, and what it needs to run without a watcher."""

    action: str
    target: str
    args: Mapping[str, Any] = field(default_factory=dict)
    #: the targets whose lock it takes (default: its own); the alert engine spans them all
    scope: Sequence[str] = ()
    attach: bool = True  # acts on the target (not only on the store or the alert engine)


def carry_out(settings: Settings, ask: Ask) -> Any:
    """The verb's value, from the running watcher when there is one, else done here."""
    while True:
        watcher = Watcher(settings, console=None, extra_sinks=extra_sinks(settings, os.environ))
        connect_replies(watcher.outbox)
        try:
            try:
                watcher.acquire_locks(_scope(ask))
            except LockHeld:
                return ask_watcher(settings, ask)
            return asyncio.run(_here(watcher, ask))
        except _LockFreed:
            continue  # the holder was another remi-ops, now done: take the lock ourselves
        finally:
            watcher.close()


class _LockFreed(Exception):
    """The lock came free while our request still waited: nobody was serving the spool."""


def _scope(ask: Ask) -> Sequence[str]:
    return ask.scope or (ask.target,)


async def _here(watcher: Watcher, ask: Ask) -> Any:
    # Bubabot posts it when it runs again, unless a plug-in sink (the webhook) posts it now
    if watcher.settings.discord.alert_channel_id and not plugged_in(watcher.outbox):
        watcher.outbox.deferred_sinks = (DISCORD_SINK,)
    if ask.attach:
        await asyncio.to_thread(watcher.watch(ask.target).attach)
    try:
        return await verb_calls.perform(watcher, ask.action, ask.target, ask.args, who())
    finally:
        await watcher.settle()  # restart notices reach .bot_alert as from a watcher


def ask_watcher(settings: Settings, ask: Ask, timeout_s: float = REQUEST_TIMEOUT_S) -> Any:
    """Hand the verb to the running watcher and wait (blocking: no event loop here).

    The lock may be held by another ``remi-ops`` doing a verb of its own rather than by a
    watcher; then nobody serves the spool, and when that lock comes free the request is
    withdrawn and carried out here instead (``_LockFreed``). A watcher that dies after
    taking the request leaves the lock free too: then the answer is what the audit log
    says became of it, at once rather than after the timeout.
    """
    state_dir = settings.state_dir
    request_id = spool.submit(state_dir, ask.target, ask.action, dict(ask.args), who(),
                              workdir=_workdir(settings, ask.target))
    deadline = time.monotonic() + timeout_s
    while (answer := spool.read_answer(state_dir, request_id)) is None:
        if not any(watcher_running(settings, name) for name in _scope(ask)):
            if spool.withdraw(state_dir, request_id):
                raise _LockFreed
            if spool.claim_orphan(state_dir, request_id):
                raise WatcherError(ask.action, _fate(settings, request_id))
        if stuck := stuck_watcher(settings, _scope(ask), datetime.now(UTC)):  # frozen
            fate = ("the request was withdrawn" if spool.withdraw(state_dir, request_id)
                    else "it took the request and may carry it out if it comes back")
            raise WatcherError(ask.action, f"{stuck}; {fate}")
        if time.monotonic() >= deadline:
            fate = ("the request was withdrawn" if spool.withdraw(state_dir, request_id)
                    else "it took the request and may still carry it out")
            raise WatcherError(ask.action, f"the watcher did not answer within "
                                           f"{timeout_s:.0f}s; {fate}")
        time.sleep(POLL_S)
    if not answer.get("ok"):
        raise WatcherError(ask.action, str(answer.get("error") or f"{ask.action} failed"),
                           usage=bool(answer.get("usage")))
    return verb_calls.decode_answer(ask.action, answer.get("value"))


def _workdir(settings: Settings, target: str) -> str:
    """The target's workdir in this configuration, which the watcher checks against its own."""
    return next((str(t.workdir) for t in settings.targets if t.name == target), "")


def _fate(settings: Settings, request_id: str) -> str:
    """What became of a request whose watcher died holding it (from the audit log)."""
    with reading(settings) as watcher:
        fate = orphan_fate(watcher.store, request_id)
    spool.forget(settings.state_dir, request_id)
    return fate


@contextmanager
def reading(settings: Settings) -> Iterator[Watcher]:
    """A ``Watcher`` for reads only (store, alert state): no lock, nothing attached, so it
    works beside a running watcher."""
    watcher = Watcher(settings, console=None)
    try:
        yield watcher
    finally:
        watcher.close()
