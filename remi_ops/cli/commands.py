"""The ``remi-ops`` subcommands that act on a target: status, health, start, stop,
restart, maintenance, scan-test. Each takes (settings, args) and returns an exit code.

The work is the runbook's (``remi_ops.watch.runbook``, through ``remi_ops.cli.verbs``);
what is printed is ``remi_ops.alerts.text``'s. ``watch`` is in
:mod:`remi_ops.cli.watchcmd`; :mod:`remi_ops.cli.subcommands` says where each runs.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any

from remi_ops import host
from remi_ops.alerts import text
from remi_ops.alerts.hub import jsonable
from remi_ops.checks.healthfile import read_health_file, report_from_dict, report_to_dict
from remi_ops.cli.common import EXIT_OK, exit_code, print_json, print_lines
from remi_ops.cli.verbs import Ask, carry_out
from remi_ops.clock import SystemClock
from remi_ops.config import Settings, TargetSettings
from remi_ops.domain import HealthReport
from remi_ops.durations import parse_duration
from remi_ops.exceptions import RemiOpsError, WatcherError
from remi_ops.host.workdir import workdir_problem
from remi_ops.store.database import Store
from remi_ops.watch.next_start import NextStart, next_start
from remi_ops.watch.presence import Presence, presence
from remi_ops.watch.results import ControlResult, HealthResult, MaintenanceResult
from remi_ops.watch.unwatched import doctor_lines
from remi_ops.watch.watcher import STORE_NAME

CLOCK = SystemClock()
Command = Callable[[Settings, argparse.Namespace], int]


def _targets(settings: Settings, args: argparse.Namespace) -> list[TargetSettings]:
    name = getattr(args, "target", None)
    return [settings.target(name)] if name else list(settings.targets)


def _output(args: argparse.Namespace, value: Any, line: str) -> None:
    if args.json:
        print_json(jsonable(value))
    else:
        print(line)


# ---------------------------------------------------------------------------- status


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    """A look from outside (processes, the persisted supervisor, the watcher): no lock."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with Store.open(settings.state_dir / STORE_NAME, CLOCK) as store:
        looks = [_status_of(settings, target, store) for target in _targets(settings, args)]
    if args.json:
        print_json([d for d, _, _ in looks])
    for d, seen, retry in [] if args.json else looks:
        pids = ", ".join(map(str, d["pids"])) or "-"
        print(f"{d['target']}: {'running' if d['running'] else 'NOT running'} (pid {pids}) "
              f"· supervisor {d['supervisor_state']} · "
              + (f"{retry.words()} · " if retry else "")
              + f"{seen.words()} · last health {d['last_health'] or '-'}"
              + (f" · {d['problem']}" if d["problem"] else ""))
    # Remi down, or nobody (alive) watching it: either way not all well
    return exit_code(all(d["running"] and seen.alive for d, seen, _ in looks))


def _status_of(settings: Settings, target: TargetSettings,
               store: Store) -> tuple[dict[str, Any], Presence, NextStart | None]:
    manager = host.make_manager(target, settings.state_dir)
    running = manager.find()
    snap = manager.snapshot(running[0]) if running else None
    state = store.get_state(f"supervisor:{target.name}") or {}  # as the supervisor saved it
    health = read_health_file(target.health_file) or {}
    now = CLOCK.now()
    seen, retry = presence(settings, target, now), next_start(state, now)
    doc = {"target": target.name, "running": bool(running), "pids": [p.pid for p in running],
           "uptime_s": round(snap.uptime_s, 1) if snap else None,
           "supervisor_state": state.get("state", "unknown"),
           "supervisor_reason": state.get("reason", ""),
           "next_start": retry.to_dict() if retry else None,
           "watched": seen.running, "watcher_stale": seen.stale,
           "watcher_heartbeat_age_s": seen.heartbeat_age_s, "watcher": seen.to_dict(),
           "last_health": health.get("status"), "last_check_at": health.get("checked_at"),
           "problem": workdir_problem(target.workdir)}
    return doc, seen, retry


# ---------------------------------------------------------------------------- health


def cmd_health(settings: Settings, args: argparse.Namespace) -> int:
    """A check now, by the watcher if it is alive, else here; exit 0 only when healthy."""
    checked = [_health_of(settings, t) for t in _targets(settings, args)]
    if args.json:
        print_json([{**report_to_dict(report), "watcher": seen.to_dict()}
                    for report, _, seen in checked])
    for report, result, _ in [] if args.json else checked:
        print_lines(text.health_lines(report, result))
    if not args.json:  # advice: a log Remi writes that nobody reads
        print_lines([line for target in _targets(settings, args)
                     for line in doctor_lines(target, settings.state_dir)])
    return exit_code(all(report.healthy for report, _, _ in checked))


def _health_of(settings: Settings,
               target: TargetSettings) -> tuple[HealthReport, HealthResult | None, Presence]:
    before = presence(settings, target, CLOCK.now())
    if before.stale:  # it would not answer: its last report, and that it is stuck
        return _with_watcher_finding(_last_report(target), before), None, before
    # a look, not a check: with no watcher running it acts on nothing and records nothing
    try:
        result: HealthResult = carry_out(settings, Ask("health", target.name, attach=False))
    except WatcherError:
        frozen = presence(settings, target, CLOCK.now())
        if not frozen.stale:
            raise
        # it froze while we asked (the request was withdrawn): as if it had been before
        return _with_watcher_finding(_last_report(target), frozen), None, frozen
    after = presence(settings, target, CLOCK.now())
    return _with_watcher_finding(result.report, after), result, after


def _last_report(target: TargetSettings) -> HealthReport:
    doc = read_health_file(target.health_file)
    try:
        return report_from_dict(doc or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise RemiOpsError(f"{target.name}: cannot read {target.health_file}: {exc}") from exc


def _with_watcher_finding(report: HealthReport, seen: Presence) -> HealthReport:
    """Nobody (alive) watching is a problem of its own: the report says so."""
    finding = seen.finding()
    if finding is None:
        return report
    return dataclasses.replace(report, findings=(*report.findings, finding),
                               status=max(report.status, finding.status))


# ---------------------------------------------------------------------------- control


def cmd_start(settings: Settings, args: argparse.Namespace) -> int:
    result: ControlResult = carry_out(settings, Ask("start", settings.target(args.target).name))
    _output(args, result, text.control_text(result))
    return exit_code(result.ok)


def cmd_stop(settings: Settings, args: argparse.Namespace) -> int:
    result: ControlResult = carry_out(settings, Ask("stop", settings.target(args.target).name,
                                                    {"reason": args.reason}))
    _output(args, result, text.control_text(result))
    return exit_code(result.ok)


def cmd_restart(settings: Settings, args: argparse.Namespace) -> int:
    report = carry_out(settings, Ask("restart", settings.target(args.target).name,
                                     {"reason": args.reason}))
    _output(args, report, text.restart_text(report))
    return exit_code(report.ok)


def cmd_maintenance(settings: Settings, args: argparse.Namespace) -> int:
    name = settings.target(args.target).name
    if args.duration == "end":
        ask = Ask("end_maintenance", name)
    else:
        ask = Ask("maintenance", name, {"duration_s": parse_duration(args.duration),
                                        "reason": args.reason})
    result: MaintenanceResult = carry_out(settings, ask)
    _output(args, result, text.maintenance_text(result))
    return EXIT_OK


def cmd_scan_test(settings: Settings, args: argparse.Namespace) -> int:
    result = carry_out(settings, Ask("scan_test", settings.target(args.target).name))
    if args.json:
        print_json(jsonable(result))
    else:
        print_lines(text.scan_lines(result))
    return exit_code(result.ok)
