"""The ``remi-ops`` subcommands. Each takes (settings, args) and returns an exit code."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import timedelta
from typing import Any

from remi_ops import host
from remi_ops.alerts.engine import AlertEngine
from remi_ops.alerts.hub import jsonable
from remi_ops.beacon import read_beacon
from remi_ops.checks.health import HealthAssessor, Observation
from remi_ops.checks.healthfile import read_health_file, report_to_dict
from remi_ops.checks.scantest import run_scan_test
from remi_ops.cli.main import (
    EXIT_OK,
    EXIT_PROBLEM,
    ask_watcher,
    parse_duration,
    print_json,
    since_delta,
    watcher_running,
)
from remi_ops.clock import SystemClock
from remi_ops.config import Settings, TargetSettings, secret_values
from remi_ops.domain import Check, Finding, HealthReport, RestartReport, Status, Trigger
from remi_ops.logs.error_groups import ErrorAggregator, LogParser
from remi_ops.logs.redact import Redactor
from remi_ops.logs.tail import Tailer
from remi_ops.store.database import Store
from remi_ops.watch.watcher import STORE_NAME, Watcher

CLOCK = SystemClock()
RECENT_S = 600.0  # a standalone health check looks at the last ten minutes of logs


def _store(settings: Settings) -> Store:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return Store.open(settings.state_dir / STORE_NAME, CLOCK)


def _targets(settings: Settings, args: argparse.Namespace) -> list[TargetSettings]:
    name = getattr(args, "target", None)
    return [settings.target(name)] if name else list(settings.targets)


# ---------------------------------------------------------------------------- watch


def cmd_watch(settings: Settings, args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM, printing each notification on the console."""
    del args
    watcher = Watcher(settings)
    try:
        watcher.acquire_locks()
        asyncio.run(_watch(watcher))
    finally:
        watcher.close()
    return EXIT_OK


async def _watch(watcher: Watcher) -> None:
    stopping = asyncio.Event()
    host.on_stop_signals(asyncio.get_running_loop(), stopping.set)
    for watch in watcher.watches.values():
        how = " ".join(watch.target.command) or watch.target.manager
        print(f"remi-ops: watching {watch.name} ({how})", flush=True)
    await watcher.run(stopping)


# ---------------------------------------------------------------------------- control


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    docs = []
    with _store(settings) as store:
        for target in _targets(settings, args):
            manager = host.make_manager(target, settings.state_dir)
            running = manager.find()
            snap = manager.snapshot(running[0]) if running else None
            state = store.get_state(f"supervisor:{target.name}") or {}
            health = read_health_file(target.health_file) or {}
            docs.append({"target": target.name, "running": bool(running),
                         "pids": [p.pid for p in running],
                         "uptime_s": round(snap.uptime_s, 1) if snap else None,
                         "supervisor_state": state.get("state", "unknown"),
                         "supervisor_reason": state.get("reason", ""),
                         "watched": watcher_running(settings, target.name),
                         "last_health": health.get("status"),
                         "last_check_at": health.get("checked_at")})
    if args.json:
        print_json(docs)
    else:
        for d in docs:
            pids = ", ".join(map(str, d["pids"])) or "-"
            print(f"{d['target']}: {'running' if d['running'] else 'NOT running'} (pid {pids}) "
                  f"· supervisor {d['supervisor_state']} · watcher "
                  f"{'running' if d['watched'] else 'NOT running'} · last health "
                  f"{d['last_health'] or '-'}")
    return EXIT_OK if all(d["running"] for d in docs) else EXIT_PROBLEM


def _control(settings: Settings, args: argparse.Namespace, action: str) -> int:
    target = settings.target(args.target)
    reason = getattr(args, "reason", "")
    if watcher_running(settings, target.name):
        return ask_watcher(settings, target.name, action, {"reason": reason})
    with host.TargetLock(settings.state_dir, target.name), _store(settings) as store:
        manager = host.make_manager(target, settings.state_dir)
        running = manager.find()
        grace = target.restart.stop_grace_s
        if action == "stop":
            result = manager.stop(None, grace)
            store.put_state(f"supervisor:{target.name}",
                            {"state": "stopped", "reason": f"stopped by cli: {reason}"})
            print(f"{target.name}: {'stopped' if result.stopped else 'was not running'}")
            return EXIT_OK
        if action == "start" and running:
            print(f"{target.name}: already running (pid {running[0].pid})")
            return EXIT_OK
        started_at, t0 = CLOCK.now(), CLOCK.monotonic()
        new = manager.restart(running[0] if running else None, grace)
        store.record_restart(RestartReport(
            target.name, reason or "started from the command line", Trigger.OPERATOR,
            "cli:" + os.environ.get("USER", "unknown"), True, started_at,
            CLOCK.monotonic() - t0, running[0].pid if running else None, new.pid))
        store.put_state(f"supervisor:{target.name}", {"state": "unknown", "reason": action})
        print(f"{target.name}: {'restarted' if running else 'started'} (pid {new.pid})")
        return EXIT_OK


def cmd_start(settings: Settings, args: argparse.Namespace) -> int:
    return _control(settings, args, "start")


def cmd_stop(settings: Settings, args: argparse.Namespace) -> int:
    return _control(settings, args, "stop")


def cmd_restart(settings: Settings, args: argparse.Namespace) -> int:
    return _control(settings, args, "restart")


# ---------------------------------------------------------------------------- health


def cmd_health(settings: Settings, args: argparse.Namespace) -> int:
    """The watcher's latest report when it is alive; otherwise a standalone check."""
    reports = [_health_of(settings, t) for t in _targets(settings, args)]
    if args.json:
        print_json([report_to_dict(r) for r in reports])
    else:
        for r in reports:
            print(f"{r.target}: {r.status}")
            for reason in r.reasons:
                print(f"  - {reason}")
    return EXIT_OK if all(r.healthy for r in reports) else EXIT_PROBLEM


def _health_of(settings: Settings, target: TargetSettings) -> HealthReport:
    manager = host.make_manager(target, settings.state_dir)
    running = manager.find()
    snap = manager.snapshot(running[0]) if running else None
    records = []
    tailer = Tailer(target.stderr_log, None, initial_read_bytes=256 * 1024)
    parser = LogParser(source="stderr")
    for line in tailer.read_new().lines:
        records.extend(parser.feed(line))
    records.extend(parser.flush())
    cutoff = CLOCK.now() - timedelta(seconds=RECENT_S)
    records = [r for r in records if r.at is None or r.at >= cutoff]
    obs = Observation(target=target.name, at=CLOCK.now(), supervisor_state="",
                      expected_alive=True, process=snap, duplicates=tuple(running),
                      records=tuple(records),
                      beacon=read_beacon(target.beacon_file, CLOCK.now().timestamp()))
    report = HealthAssessor(target.health).assess(obs)
    if not watcher_running(settings, target.name):
        finding = Finding(Check.WATCHER, Status.DEGRADED,
                          "no watcher is running (remi-ops watch / bubabot): nobody will "
                          "restart it")
        report = HealthReport(**{**_fields(report), "findings": (*report.findings, finding),
                                 "status": _worst(report.status, Status.DEGRADED)})
    return report


def _fields(report: HealthReport) -> dict[str, Any]:
    return {f: getattr(report, f) for f in report.__dataclass_fields__}


def _worst(a: Status, b: Status) -> Status:
    order = [Status.HEALTHY, Status.DEGRADED, Status.DOWN]
    return max(a, b, key=order.index)


# ---------------------------------------------------------------------------- errors, scan


def cmd_errors(settings: Settings, args: argparse.Namespace) -> int:
    delta = since_delta(args.since)
    since = CLOCK.now() - delta if delta else None
    with _store(settings) as store:
        groups = [g for t in _targets(settings, args)
                  for g in store.error_groups(t.name, since=since, limit=100)]
    if args.json:
        print_json([jsonable(g) for g in groups])
    elif not groups:
        print("no errors recorded")
    for g in [] if args.json else groups:
        print(f"{g.fingerprint}  ×{g.count:<6} last {g.last_seen:%Y-%m-%d %H:%M}  {g.title}"
              f"  ({g.culprit or g.kind})")
    return EXIT_OK


def cmd_scan_test(settings: Settings, args: argparse.Namespace) -> int:
    target = settings.target(args.target)
    redact = Redactor(secret_values(target, os.environ))
    aggregator = ErrorAggregator(target.name, redact)
    result = run_scan_test(target.name, target.scan_test, cwd=target.workdir,
                           env={**os.environ, **target.env}, run=host.run_command,
                           redact=redact, fingerprint=aggregator.fingerprint_text,
                           now=CLOCK.now())
    with _store(settings) as store:
        store.record_scan(result)
    if args.json:
        print_json(jsonable(result))
    else:
        print(f"{target.name}: /scan test {result.outcome} in {result.duration_s:.1f}s"
              + (f" — {result.reason}" if result.reason else ""))
        if result.output and not result.ok:
            print(result.output)
    return EXIT_OK if result.ok else EXIT_PROBLEM


# ---------------------------------------------------------------------------- history, alerts


def cmd_history(settings: Settings, args: argparse.Namespace) -> int:
    delta = since_delta(args.since) or timedelta(days=3650)
    with _store(settings) as store:
        items = store.history(CLOCK.now() - delta)
    if args.json:
        print_json([jsonable(i) for i in items])
        return EXIT_OK
    for item in items:
        took = f"{item.duration_s:.1f}s" if item.duration_s is not None else "ongoing"
        print(f"{item.at:%Y-%m-%d %H:%M:%S}  {item.target:<8} {item.kind:<9} "
              f"{'ok ' if item.ok else 'BAD'} {took:>9}  {item.title}")
    if not items:
        print("nothing happened")
    return EXIT_OK


def _engine_from_store(settings: Settings, store: Store) -> AlertEngine:
    saved = store.load_alert_state()
    return AlertEngine.from_dict(saved, settings.alerts) if saved else AlertEngine(
        settings.alerts)


def _matchers(text: str) -> dict[str, str]:
    matchers = {}
    for part in filter(None, text.split(",")):
        label, sep, glob = part.partition("=")
        if not sep or not glob:
            raise ValueError(f"matcher {part!r} is not label=glob")
        matchers[label.strip()] = glob.strip()
    return matchers


def cmd_silence(settings: Settings, args: argparse.Namespace) -> int:
    matchers, duration_s = _matchers(args.matcher), parse_duration(args.duration)
    target = matchers.get("target", settings.targets[0].name)
    payload = {"matchers": matchers, "duration_s": duration_s, "reason": args.reason}
    if any(watcher_running(settings, t.name) for t in settings.targets):
        return ask_watcher(settings, target, "silence", payload)
    with _store(settings) as store:
        engine = _engine_from_store(settings, store)
        silence = engine.silence(CLOCK.now(), matchers, duration_s, "cli", args.reason)
        delta = engine.delta()
        store.save_alert_state(delta.meta, delta.upserts, delta.deletes)
    print(f"silenced {args.matcher} until {silence.ends_at:%Y-%m-%d %H:%M} UTC "
          f"(id {silence.id})")
    return EXIT_OK


def cmd_ack(settings: Settings, args: argparse.Namespace) -> int:
    target = settings.targets[0].name
    if any(watcher_running(settings, t.name) for t in settings.targets):
        return ask_watcher(settings, target, "ack", {"ref": args.alert})
    with _store(settings) as store:
        engine = _engine_from_store(settings, store)
        keys = engine.ack(CLOCK.now(), args.alert, "cli")
        delta = engine.delta()
        store.save_alert_state(delta.meta, delta.upserts, delta.deletes)
    if not keys:
        print(f"no firing alert matches {args.alert!r}", file=sys.stderr)
        return EXIT_PROBLEM
    print("acknowledged: " + ", ".join(map(str, keys)))
    return EXIT_OK


def cmd_alerts(settings: Settings, args: argparse.Namespace) -> int:
    with _store(settings) as store:
        engine = _engine_from_store(settings, store)
    now = CLOCK.now()
    firing, silences = engine.alerts(), engine.silences(now)
    if args.json:
        print_json({"firing": [a.to_dict() for a in firing],
                    "silences": [s.to_dict() for s in silences]})
        return EXIT_OK
    for line in firing:
        print(f"{line.alert_id[:12]}  {line.text()}")
    for s in silences:
        print(f"silence {s.id[:12]}  {dict(s.matchers)} until {s.ends_at:%Y-%m-%d %H:%M} "
              f"by {s.created_by}: {s.comment}")
    if not firing and not silences:
        print("nothing firing, nothing silenced")
    return EXIT_OK
