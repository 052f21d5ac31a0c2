"""The runbook steps as Discord interactions, shared by slash commands and alert buttons.

Each step is parse-free: the caller (a cog or a button) has parsed its options and, for
commands, the tree has checked access. A step resolves the target, acknowledges within
Discord's 3 s (defer) before calling the service, renders the result and answers, then
records mutating actions. Answers for one person are ephemeral (lists, refusals,
confirmations); results others should see (restart, scan test) are public.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import discord
from discord import app_commands

from bubabot import render
from bubabot.access import AccessPolicy, Actor, Tier
from bubabot.confirm import ConfirmView
from bubabot.health_embed import health_embed
from bubabot.interact import Gate, reply, reply_error
from bubabot.service import OpsService
from remi_ops.alerts.model import AlertLine
from remi_ops.alerts.testalert import report_lines
from remi_ops.alerts.text import history_evidence
from remi_ops.config import DiscordSettings
from remi_ops.durations import format_duration, parse_duration
from remi_ops.exceptions import RemiOpsError, UnknownAlert

log = logging.getLogger(__name__)

#: choices of the ``since`` options, in seconds (None: everything); the CLI's parser reads them
SINCE_S: Mapping[str, float | None] = {
    **{choice: parse_duration(choice) for choice in ("1h", "24h", "7d", "30d")}, "all": None}
SINCE_LABEL = {"1h": "last hour", "24h": "last 24 hours", "7d": "last 7 days",
               "30d": "last 30 days", "all": "all time"}
#: how far back /remi-history looks at most
HISTORY_MAX_S = parse_duration("30d")
#: choices of the ``duration`` options (silence, maintenance); "end" ends maintenance
DURATION_S: Mapping[str, float] = {
    **{choice: parse_duration(choice) for choice in ("30m", "1h", "4h", "24h", "7d")}, "end": 0}


class Runbook:
    """What Bubabot can do for a person in Discord, one method per runbook step."""

    def __init__(self, client: discord.Client, service: OpsService, policy: AccessPolicy,
                 settings: DiscordSettings) -> None:
        self.service = service
        self.settings = settings
        self.gate = Gate(client, service, policy, settings.alert_channel_id)
        self._questions: weakref.WeakSet[ConfirmView] = weakref.WeakSet()

    def close(self) -> None:
        """Withdraw open confirmations (their timers would outlive the client)."""
        for view in list(self._questions):
            view.stop()

    # --- targets ---------------------------------------------------------------------

    def target_choices(self, current: str) -> list[app_commands.Choice[str]]:
        names = [n for n in self.service.target_names if current.lower() in n.lower()]
        return [app_commands.Choice(name=n, value=n) for n in names[:25]]

    async def known_target(self, interaction: discord.Interaction,
                           target: str | None) -> str | None:
        """The named (or default) target, or None after telling the person it is unknown."""
        names = list(self.service.target_names)
        if target is None and names:
            return names[0]
        if target in names:
            return target
        shown = render.clip(str(target).replace("`", "'"), 40)
        await reply_error(interaction, f"Unknown target `{shown}`; configured: "
                                       f"{', '.join(names) or 'none'}.")
        return None

    # --- read-only -------------------------------------------------------------------

    async def health(self, interaction: discord.Interaction, target: str | None) -> None:
        name = await self.known_target(interaction, target)
        if name is None:
            return
        await interaction.response.defer(thinking=True)
        try:
            view = await self.service.health(name)
        except RemiOpsError as error:
            await reply_error(interaction, f"⚠️ Health check of {name} failed: {error}")
            return
        lag = view.bubabot_lag_s if view.bubabot_lag_s is not None \
            else self.service.loop_lag()[0]
        embed = health_embed(view.report, last_scan=view.last_scan, bubabot_lag_s=lag,
                             state_reason=view.state_reason, restarts=view.restarts,
                             maintenance_until=view.maintenance_until)
        evidence = "\n\n".join(f"=== {f.check}: {f.summary}\n{f.evidence}"
                               for f in view.report.findings if f.evidence)
        files = [render.text_file(f"health-{name}.txt", evidence)] if evidence else []
        await reply(interaction, embed=embed, files=files)

    async def errors(self, interaction: discord.Interaction, target: str | None,
                     since: str) -> None:
        name = await self.known_target(interaction, target)
        if name is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            groups = await self.service.errors(name, SINCE_S[since])
        except RemiOpsError as error:
            await reply_error(interaction, f"⚠️ Could not read errors of {name}: {error}")
            return
        embed = render.errors_embed(name, groups, SINCE_LABEL[since])
        files = [render.text_file(f"errors-{name}-{since}.txt",
                                  render.errors_attachment(groups))] if groups else []
        await reply(interaction, embed=embed, files=files, ephemeral=True)

    async def history(self, interaction: discord.Interaction, target: str | None,
                      since: str) -> None:
        name = await self.known_target(interaction, target)
        if name is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            items = await self.service.history(name, SINCE_S[since] or HISTORY_MAX_S)
        except RemiOpsError as error:
            await reply_error(interaction, f"⚠️ Could not read history of {name}: {error}")
            return
        evidence = history_evidence(items)
        files = [render.text_file(f"history-{name}-{since}.txt", evidence)] if evidence else []
        await reply(interaction, embed=render.history_embed(name, items, SINCE_LABEL[since]),
                    files=files, ephemeral=True)

    # --- safe mutations --------------------------------------------------------------

    async def scan_test(self, interaction: discord.Interaction, actor: Actor,
                        target: str | None, *, via: str) -> None:
        name = await self.known_target(interaction, target)
        if name is None:
            return
        await interaction.response.defer(thinking=True)
        started = time.monotonic()
        try:
            result = await self.service.scan_test(name, actor)
        except Exception as error:
            await self._failed(interaction, actor, "scan test", name, arguments={"via": via},
                               error=error, started=started)
            return
        files = ([render.text_file(f"scan-test-{name}.txt", result.output)]
                 if result.output and render.needs_attachment(result.output) else [])
        await reply(interaction, embed=render.scan_embed(result, trigger=f"by {actor.name}"),
                    files=files)
        await self.gate.record(actor, "scan test", name, {"via": via},
                               f"{result.outcome} in {format_duration(result.duration_s)}",
                               ok=result.ok, duration_s=time.monotonic() - started)

    async def test_alert(self, interaction: discord.Interaction, actor: Actor,
                         target: str | None, *, via: str) -> None:
        """A marked test notification through every sink; the person learns which got it."""
        name = await self.known_target(interaction, target)
        if name is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        started = time.monotonic()
        try:
            report = await self.service.test_alert(name, actor)
        except Exception as error:
            await self._failed(interaction, actor, "test alert", name, arguments={"via": via},
                               error=error, started=started)
            return
        lines = [render.clip(line, 300) for line in report_lines(report)]
        icon = "✅" if report.ok else "⚠️"
        await reply(interaction, render.clip(f"{icon} " + "\n".join(lines), render.CONTENT_MAX),
                    ephemeral=True)
        # stored, not posted: the test notification itself says who asked for it
        await self.gate.record(actor, "test alert", name, {"via": via}, report.summary(),
                               ok=report.ok, duration_s=time.monotonic() - started,
                               post=False)

    async def silence(self, interaction: discord.Interaction, actor: Actor,
                      target: str | None, *, kind: str | None, fingerprint: str | None,
                      duration: str, reason: str, via: str) -> None:
        name = await self.known_target(interaction, target)
        if name is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        arguments = {"duration": duration, "kind": kind, "fingerprint": fingerprint,
                     "reason": reason, "via": via}
        started = time.monotonic()
        try:
            silence = await self.service.silence(name, kind, fingerprint, DURATION_S[duration],
                                                 actor, reason)
        except RemiOpsError as error:
            await self._failed(interaction, actor, "silence", name, arguments=arguments,
                               error=error, started=started)
            return
        await reply(interaction, render.silence_text(silence), ephemeral=True)
        await self.gate.record(actor, "silence", name, arguments,
                               f"silence {silence.id} until {render.when(silence.ends_at)}",
                               ok=True, duration_s=time.monotonic() - started)

    async def ack(self, interaction: discord.Interaction, actor: Actor, refs: list[str], *,
                  via: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        started = time.monotonic()
        arguments = {"ref": ", ".join(refs), "via": via}
        acked = []
        try:
            for ref in refs:
                acked += await self._ack_one(ref, actor)
        except RemiOpsError as error:
            await self._failed(interaction, actor, "ack", None, arguments=arguments,
                               error=error, started=started)
            return
        await reply(interaction, render.ack_text(", ".join(refs), acked), ephemeral=True)
        targets = sorted({line.key.target for line in acked})
        await self.gate.record(actor, "ack", ", ".join(targets) or None, arguments,
                               f"{len(acked)} alert(s) acknowledged", ok=True,
                               duration_s=time.monotonic() - started)

    async def _ack_one(self, ref: str, actor: Actor) -> list[AlertLine]:
        """Nothing firing under ``ref`` (resolved, or acked already) is an answer, not a
        failure: an alert's buttons outlive the alert."""
        try:
            return await self.service.ack(ref, actor)
        except UnknownAlert:
            return []

    async def resolve(self, interaction: discord.Interaction, actor: Actor,
                      target: str | None, *, fingerprint: str, via: str) -> None:
        name = await self.known_target(interaction, target)
        if name is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        arguments = {"fingerprint": fingerprint, "via": via}
        started = time.monotonic()
        try:
            resolution = await self.service.resolve(name, fingerprint, actor)
        except RemiOpsError as error:
            await self._failed(interaction, actor, "resolve", name, arguments=arguments,
                               error=error, started=started)
            return
        await reply(interaction, render.resolve_text(resolution), ephemeral=True)
        await self.gate.record(actor, "resolve", name, arguments,
                               f"error group {fingerprint} marked fixed", ok=True,
                               duration_s=time.monotonic() - started)

    # --- destructive, behind a confirmation ------------------------------------------

    async def ask_restart(self, interaction: discord.Interaction, actor: Actor,
                          target: str | None, *, reason: str, via: str) -> None:
        name = await self.known_target(interaction, target)
        if name is None:
            return

        async def confirmed(click: discord.Interaction) -> None:
            clicker = await self.gate.admit(click, Tier.DESTRUCTIVE, "restart", name)
            if clicker is not None:
                await self._restart(click, clicker, name, reason, via)

        await self._ask(interaction, actor,
                        question=f"Restart **{name}**? This stops its whole process tree and "
                                 f"starts it again.\nReason: {reason}",
                        label=f"Restart {name}", on_confirm=confirmed, what=f"restart of {name}")

    async def maintenance(self, interaction: discord.Interaction, actor: Actor,
                          target: str | None, *, duration: str, reason: str, via: str) -> None:
        name = await self.known_target(interaction, target)
        if name is None:
            return
        if DURATION_S[duration] == 0:  # ending maintenance hands control back: no question
            await interaction.response.defer(ephemeral=True, thinking=True)
            await self._maintain(interaction, actor, name, duration=duration, reason=reason,
                                 via=via)
            return

        async def confirmed(click: discord.Interaction) -> None:
            clicker = await self.gate.admit(click, Tier.DESTRUCTIVE, "maintenance", name)
            if clicker is not None:
                await click.response.edit_message(content=f"🛠️ Starting maintenance of "
                                                          f"**{name}**…", view=None)
                await self._maintain(click, clicker, name, duration=duration, reason=reason,
                                     via=via)

        await self._ask(interaction, actor,
                        question=f"Put **{name}** in maintenance for {duration}? Bubabot will "
                                 "not restart it or page anyone until it ends.\n"
                                 f"Reason: {reason}",
                        label=f"Start maintenance ({duration})", on_confirm=confirmed,
                        what=f"maintenance of {name}")

    async def _ask(self, interaction: discord.Interaction, actor: Actor, *, question: str,
                   label: str, on_confirm: Callable[[discord.Interaction], Awaitable[None]],
                   what: str) -> None:
        timeout = self.settings.confirm_timeout_s
        view = ConfirmView(owner=actor, timeout_s=timeout, confirm_label=label,
                           on_confirm=on_confirm,
                           on_refused=lambda click, why: self.gate.refused(
                               click, f"confirm {what}", why),
                           expired_text=f"⌛ This confirmation expired after "
                                        f"{format_duration(timeout)}; the {what} was not "
                                        "done. Ask again if it is still needed.")
        self._questions.add(view)
        deadline = discord.utils.utcnow().timestamp() + timeout
        await reply(interaction, f"⚠️ {question}\nOnly you can answer; this expires "
                                 f"<t:{int(deadline)}:R>.", view=view, ephemeral=True)
        view.prompt = interaction

    async def _restart(self, click: discord.Interaction, actor: Actor, name: str, reason: str,
                       via: str) -> None:
        await click.response.edit_message(content=f"🔄 Restarting **{name}**…", view=None)
        arguments = {"reason": reason, "via": via}
        started = time.monotonic()
        try:
            report = await self.service.restart(name, actor, reason)
        except Exception as error:
            await self._failed(click, actor, "restart", name, arguments=arguments,
                               error=error, started=started)
            return
        text = "\n\n".join(p for p in (report.detail, report.evidence) if p)
        files = [render.text_file(f"restart-{name}.txt", text)] if text else []
        await reply(click, embed=render.restart_embed(report), files=files)
        await click.edit_original_response(
            content=f"Restart of **{name}** {'done' if report.ok else 'failed'}: "
                    "the result is in the channel.")
        result = (f"pid {report.old_pid or '–'} → {report.new_pid or '–'}" if report.ok
                  else render.clip(report.detail or "failed", 300))
        # the public result above says who restarted it: the audit row is stored, not posted
        await self.gate.record(actor, "restart", name, arguments, result, ok=report.ok,
                               duration_s=time.monotonic() - started, post=False)

    async def _maintain(self, interaction: discord.Interaction, actor: Actor, name: str, *,
                        duration: str, reason: str, via: str) -> None:
        arguments = {"duration": duration, "reason": reason, "via": via}
        started = time.monotonic()
        try:
            result = await self.service.maintenance(name, DURATION_S[duration], actor, reason)
        except Exception as error:
            await self._failed(interaction, actor, "maintenance", name, arguments=arguments,
                               error=error, started=started)
            return
        await reply(interaction, render.maintenance_text(result), ephemeral=True)
        summary = "ended" if result.until is None else f"until {render.when(result.until)}"
        await self.gate.record(actor, "maintenance", name, arguments, summary, ok=True,
                               duration_s=time.monotonic() - started)

    async def _failed(self, interaction: discord.Interaction, actor: Actor, action: str,
                      target: str | None, *, arguments: Mapping[str, Any],
                      error: Exception, started: float) -> None:
        """An engine error: tell the person in one sentence, and record the failed attempt.

        A bug (anything but a ``RemiOpsError``) is told the same way, never as discord.py's
        "Something went wrong"; its traceback goes to the log, not to the channel."""
        said = str(error)
        if not isinstance(error, RemiOpsError):
            log.error("%s of %s failed", action, target, exc_info=error)
            said = f"{type(error).__name__}: {error} (the details are in Bubabot's log)"
        await reply_error(interaction, f"⚠️ {action} failed: {said}")
        await self.gate.record(actor, action, target, arguments, said, ok=False,
                               duration_s=time.monotonic() - started)


def runbook_of(interaction: discord.Interaction) -> Runbook:
    """The runbook of the client that received ``interaction`` (Bubabot sets ``runbook``)."""
    runbook = getattr(interaction.client, "runbook", None)
    if not isinstance(runbook, Runbook):
        raise TypeError(f"{type(interaction.client).__name__} has no Bubabot runbook")
    return runbook
