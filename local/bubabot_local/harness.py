"""A hand-written ``OpsService`` fake and a harness that runs a real Bubabot on the emulator.

The fake records every call and returns canned, realistic values; it raises the engine's
own errors (``UnknownTarget``, or whatever a test puts in ``fail``). The harness builds the
emulated guild (roles for operators and viewers, a stranger without roles), starts
Bubabot the way production does (login, then connect in a task: pitfall 6) and closes it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bubabot.access import AccessPolicy, Actor
from bubabot.bot import Bubabot, ReadyHook
from bubabot.looplag import LoopLagMonitor
from bubabot.service import HealthView, OpsService
from bubabot.sink import DiscordSink
from bubabot_local.emulator import DiscordEmulator, Interaction, Message
from remi_ops.alerts.model import AlertKey, AlertLine, LineState, Silence
from remi_ops.alerts.testalert import DeliveryReport, SinkDelivery
from remi_ops.config import DiscordSettings
from remi_ops.domain import (
    Check,
    ErrorGroup,
    Finding,
    HealthReport,
    LogKind,
    RestartReport,
    ScanOutcome,
    ScanResult,
    Severity,
    Status,
    Trigger,
)
from remi_ops.exceptions import RemiOpsError, UnknownAlert, UnknownErrorGroup, UnknownTarget
from remi_ops.logs.redact import redact_patterns
from remi_ops.store.records import AuditEntry, HistoryItem, HistoryKind, Incident
from remi_ops.watch.results import MaintenanceResult, Resolution

GUILD = 1_190_000_000_000_000_001
QUICK_TASKS = 1_190_000_000_000_000_002
GENERAL = 1_190_000_000_000_000_003
OPS_ROLE = 1_190_000_000_000_000_010
VIEW_ROLE = 1_190_000_000_000_000_011
ONCALL_ROLE = 1_190_000_000_000_000_012
OPERATOR = 1_190_000_000_000_000_020  # jordan: operator
OPERATOR_2 = 1_190_000_000_000_000_021  # sam: another operator
VIEWER = 1_190_000_000_000_000_022  # vic: may read only
STRANGER = 1_190_000_000_000_000_023  # stan: no ops role at all
BOT_ID = 1_190_000_000_000_000_030
TOKEN = "bubabot.test.token-77c1"
NOW = datetime(2026, 1, 24, 3, 0, tzinfo=UTC)
STACK_DUMP = "Thread 0x7f (most recent call first):\n" + "".join(
    f'  File "soundcloud_client.py", line {n}, in fetch_sync\n' for n in range(60))


@dataclass
class Call:
    method: str
    args: dict[str, Any]


@dataclass
class FakeService:
    """Implements ``OpsService`` with canned values; ``calls`` and ``audits`` record use."""

    targets: tuple[str, ...] = ("remi", "remi-staging")
    calls: list[Call] = field(default_factory=list)
    audits: list[AuditEntry] = field(default_factory=list)
    fail: dict[str, RemiOpsError] = field(default_factory=dict)
    lag: LoopLagMonitor = field(default_factory=LoopLagMonitor)
    acked: list[AlertLine] = field(default_factory=list)

    @property
    def target_names(self) -> Sequence[str]:
        return self.targets

    def methods(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.method == name]

    async def _enter(self, method: str, target: str | None = None, **args: Any) -> str:
        """Record, yield to the loop (the real one runs in a thread), fail if told to."""
        self.calls.append(Call(method, {"target": target, **args}))
        await asyncio.sleep(0)
        if method in self.fail:
            raise self.fail[method]
        name = target or self.targets[0]
        if name not in self.targets:
            raise UnknownTarget(name, self.targets)
        return name

    async def health(self, target: str | None) -> HealthView:
        name = await self._enter("health", target)
        report = HealthReport(
            target=name, status=Status.DEGRADED, checked_at=NOW, supervisor_state="running",
            loop_lag_s=12.5, gateway="connected", restarts_recent=1,
            findings=(Finding(Check.EVENT_LOOP, Status.DEGRADED, "event loop blocked for 12.5 s",
                              Severity.WARNING, evidence=redact_patterns(STACK_DUMP)),))
        return HealthView(report=report, state_reason="up 3h", bubabot_lag_s=0.004)

    async def errors(self, target: str | None, since_s: float | None,
                     limit: int = 10) -> list[ErrorGroup]:
        name = await self._enter("errors", target, since_s=since_s, limit=limit)
        return [sample_group(name)]

    async def restart(self, target: str | None, actor: Actor, reason: str) -> RestartReport:
        name = await self._enter("restart", target, actor=actor, reason=reason)
        return RestartReport(target=name, reason=reason, trigger=Trigger.OPERATOR,
                             requested_by=actor.label, ok=True, at=NOW, duration_s=4.2,
                             old_pid=4242, new_pid=4343,
                             evidence=redact_patterns(STACK_DUMP))

    async def scan_test(self, target: str | None, actor: Actor) -> ScanResult:
        name = await self._enter("scan_test", target, actor=actor)
        return ScanResult(target=name, outcome=ScanOutcome.PASSED, started_at=NOW,
                          duration_s=2.1, exit_code=0, output=redact_patterns("scored 1 track"),
                          commit="a1b2c3d")

    async def history(self, target: str | None, since_s: float) -> list[HistoryItem]:
        name = await self._enter("history", target, since_s=since_s)
        restart = RestartReport(name, "event loop blocked", Trigger.HANG, "watchdog", True, NOW,
                                4.2, 4242, 4343)
        incident = Incident(7, name, NOW - timedelta(minutes=5), NOW, "Remi unresponsive",
                            Severity.PAGE, "resolved after 5m 00s")
        return [HistoryItem(at=NOW, target=name, kind=HistoryKind.RESTART, duration_s=4.2,
                            ok=True, restart=restart),
                HistoryItem(at=incident.opened_at, target=name, kind=HistoryKind.INCIDENT,
                            duration_s=300.0, ok=True, incident=incident)]

    async def silence(self, target: str | None, kind: str | None, fingerprint: str | None,
                      duration_s: float, actor: Actor, reason: str) -> Silence:
        name = await self._enter("silence", target, kind=kind, fingerprint=fingerprint,
                                 duration_s=duration_s, actor=actor, reason=reason)
        matchers = [("target", name), ("kind", kind or "*")]
        if fingerprint:
            matchers.append(("fingerprint", fingerprint))
        return Silence(id="s1", matchers=tuple(matchers), starts_at=NOW,
                       ends_at=NOW + timedelta(seconds=duration_s), created_by=actor.label,
                       comment=reason)

    async def maintenance(self, target: str | None, duration_s: float, actor: Actor,
                          reason: str) -> MaintenanceResult:
        name = await self._enter("maintenance", target, duration_s=duration_s, actor=actor,
                                 reason=reason)
        if duration_s == 0:
            return MaintenanceResult(name, None, "running", f"maintenance ended by {actor.label}",
                                     actor.label)
        return MaintenanceResult(name, NOW + timedelta(seconds=duration_s), "maintenance",
                                 f"maintenance by {actor.label}: {reason}", actor.label)

    async def ack(self, ref: str, actor: Actor) -> list[AlertLine]:
        """``acked`` is what the ack finds; nothing there is the engine's ``UnknownAlert``."""
        await self._enter("ack", None, ref=ref, actor=actor)
        if not self.acked:
            raise UnknownAlert(ref)
        return list(self.acked)

    async def resolve(self, target: str | None, fingerprint: str,
                      actor: Actor) -> Resolution:
        """Knows the one group ``errors`` lists; any other fingerprint is unknown."""
        name = await self._enter("resolve", target, fingerprint=fingerprint, actor=actor)
        group = sample_group(name)
        if fingerprint != group.fingerprint:
            raise UnknownErrorGroup(name, fingerprint)
        return Resolution(dataclasses.replace(group, resolved_at=NOW), actor.label)

    async def test_alert(self, target: str | None, actor: Actor) -> DeliveryReport:
        """The file and the bot sink delivered it (a canned answer)."""
        name = await self._enter("test_alert", target, actor=actor)
        return DeliveryReport("0" * 32, name, "TEST — this is a test alert, no action needed",
                              (SinkDelivery("file", True, ref="0" * 32),
                               SinkDelivery("discord", True, ref="1234")))

    async def audit(self, actor: Actor, action: str, target: str | None,
                    arguments: Mapping[str, Any], result: str, ok: bool,
                    duration_s: float) -> None:
        self.audits.append(AuditEntry(id=len(self.audits) + 1, at=NOW, actor=actor.label,
                                      action=action, target=target or "",
                                      arguments=dict(arguments), result=result, ok=ok,
                                      duration_s=duration_s))

    async def audit_log(self, limit: int = 20) -> list[AuditEntry]:
        return list(reversed(self.audits))[:limit]

    def loop_lag(self) -> tuple[float, float]:
        return self.lag.reading()


def sample_group(target: str) -> ErrorGroup:
    """The incident's error group, as the fake's ``errors`` lists it."""
    return ErrorGroup(fingerprint="3f2a9c0d1e4b5a69", target=target,
                      title=redact_patterns("NameError: name 'asyncio' is not defined"),
                      kind=LogKind.CRASH, count=37, first_seen=NOW - timedelta(hours=2),
                      last_seen=NOW, sample=redact_patterns("Traceback (most recent call last):\n"
                      '  File "scoring_async.py", line 88, in score_batch_async\n'
                      "NameError: name 'asyncio' is not defined"),
                      culprit="scoring_async.py in score_batch_async")


def firing_line(kind: str = "hang", target: str = "remi", *, severity: Severity = Severity.PAGE,
                evidence: str = "") -> AlertLine:
    key = AlertKey(target, kind)
    return AlertLine(key=key, alert_id="0123456789ab", state=LineState.FIRING,
                     severity=severity, summary="event loop blocked for 850 s",
                     started_at=NOW, count=1,
                     details={"evidence": evidence} if evidence else {})


@dataclass
class Harness:
    """One emulated guild, one FakeService, and Bubabots started and closed on demand."""

    emulator: DiscordEmulator
    service: FakeService
    settings: DiscordSettings
    state_dir: Path
    bots: list[tuple[Bubabot, asyncio.Task[None]]] = field(default_factory=list)

    @property
    def sync_state_path(self) -> Path:
        return self.state_dir / "commands.sha256"

    @property
    def bot(self) -> Bubabot:
        return self.bots[-1][0]

    async def start_bot(self, on_ready_hook: ReadyHook | None = None) -> Bubabot:
        bot = Bubabot(self.service, self.settings, AccessPolicy.from_settings(self.settings),
                      sync_state_path=self.sync_state_path, on_ready_hook=on_ready_hook,
                      guild_ready_timeout=0.05)
        await bot.login(TOKEN)
        task = asyncio.create_task(bot.connect())
        self.bots.append((bot, task))
        await asyncio.wait_for(bot.wait_until_ready(), 5)
        return bot

    async def stop_bot(self) -> None:
        bot, task = self.bots.pop()
        await bot.close()
        await task

    def sink(self) -> DiscordSink:
        return DiscordSink(self.bot, QUICK_TASKS, ONCALL_ROLE)

    async def slash(self, name: str, options: Mapping[str, object] | None = None, *,
                    user: int = OPERATOR, channel: int = QUICK_TASKS,
                    **more: object) -> Interaction:
        """``/name`` with ``options`` (a mapping, or keywords) by ``user``; its full answer."""
        interaction = await self.emulator.invoke_slash(
            guild_id=GUILD, channel_id=channel, user_id=user, name=name,
            options={**(options or {}), **more})
        return await self.emulator.wait_for_response(interaction)

    async def click(self, message_id: int, custom_id: str, user: int = OPERATOR) -> Interaction:
        interaction = await self.emulator.click_button(user_id=user, message_id=message_id,
                                                       custom_id=custom_id)
        return await self.emulator.wait_for_response(interaction)

    async def followups(self, interaction: Interaction, n: int = 1) -> list[Message]:
        """Follow-ups arrive after a type 7 update completed the interaction."""
        await self.emulator.wait_for(lambda: len(interaction.followups) >= n,
                                     what=f"{n} follow-up(s) to {interaction.id}")
        return interaction.followups

    def channel(self, channel_id: int = QUICK_TASKS) -> list[Message]:
        return self.emulator.messages(channel_id)

    def audit_lines(self) -> list[str]:
        return [m.content for m in self.channel() if m.content.startswith("🧾")]

    async def wait_audits(self, n: int) -> None:
        await self.emulator.wait_for(lambda: len(self.service.audits) >= n,
                                     what=f"{n} audit record(s)")


def button(message: Message, label: str) -> str:
    """The custom_id of the button whose label starts with ``label``."""
    for row in message.components:
        for item in row.get("components", []):
            if str(item.get("label", "")).startswith(label):
                return str(item["custom_id"])
    raise AssertionError(f"no button {label!r} on message {message.id}: {message.components}")


_: type[OpsService] = FakeService  # the fake must keep matching the protocol
