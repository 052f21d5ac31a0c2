"""The ``remi-ops`` subcommands about what happened and what is said about it: errors,
history, alerts (reads) and silence, ack, resolve (alert and error-group admin)."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from remi_ops.alerts import text
from remi_ops.alerts.hub import jsonable
from remi_ops.cli.common import (
    EXIT_OK,
    EXIT_PROBLEM,
    UsageError,
    print_json,
    print_lines,
    since_delta,
)
from remi_ops.cli.verbs import Ask, carry_out, reading
from remi_ops.config import Settings
from remi_ops.domain import ErrorGroup
from remi_ops.durations import parse_duration
from remi_ops.watch import runbook
from remi_ops.watch.results import Resolution
from remi_ops.watch.unwatched import doctor_lines
from remi_ops.watch.watcher import Watcher

ERRORS_SHOWN = 100


def cmd_errors(settings: Settings, args: argparse.Namespace) -> int:
    with reading(settings) as watcher:
        if args.file is not None:
            groups = errors_in_file(watcher, args.target, args.file)
        else:
            groups = asyncio.run(runbook.errors(watcher, args.target,
                                                since_delta(args.since), ERRORS_SHOWN))
    if args.json:
        print_json([jsonable(g) for g in groups])
    else:
        print_lines(text.errors_lines(groups))
    return EXIT_OK


def errors_in_file(watcher: Watcher, target: str | None, path: Path) -> list[ErrorGroup]:
    """The error groups of one whole log file, redacted with the target's secrets (what
    the runbook's "read bot_error.log" step was, minus the reading); not stored."""
    # here, not at the top: its process pool (multiprocessing, pickle) costs RSS in `watch`
    from remi_ops.logs.fullscan import ScanJob, scan_file  # noqa: PLC0415

    if not path.is_file():
        raise UsageError(f"--file {path}: not a file")
    watch = watcher.watch(target)
    job = ScanJob(path, watch.name, watch.redact, watcher.clock.now(),
                  source=path.name)
    summary = scan_file(job, workers=os.cpu_count() or 1)
    return list(summary.groups)


def cmd_history(settings: Settings, args: argparse.Namespace) -> int:
    with reading(settings) as watcher:
        items = asyncio.run(runbook.history(watcher, args.target, since_delta(args.since)))
    if args.json:
        print_json([jsonable(i) for i in items])
    else:
        print_lines(text.history_lines(items))
    return EXIT_OK


def cmd_alerts(settings: Settings, args: argparse.Namespace) -> int:
    with reading(settings) as watcher:
        view = asyncio.run(runbook.alerts(watcher))
    if args.json:
        print_json({"firing": [a.to_dict() for a in view.firing],
                    "silences": [s.to_dict() for s in view.silences]})
    else:
        print_lines(text.alerts_lines(view))
    return EXIT_OK


def _matchers(spec: str) -> dict[str, str]:
    matchers = {}
    for part in filter(None, spec.split(",")):
        label, sep, glob = part.partition("=")
        if not sep or not glob:
            raise ValueError(f"matcher {part!r} is not label=glob")
        matchers[label.strip()] = glob.strip()
    return matchers


def _engine_wide(settings: Settings, action: str, args: dict[str, object]) -> Ask:
    """The alert engine serves every target: its verbs need every lock (or the watcher)."""
    names = [t.name for t in settings.targets]
    return Ask(action, names[0], args, scope=names, attach=False)


def cmd_silence(settings: Settings, args: argparse.Namespace) -> int:
    payload = {"matchers": _matchers(args.matcher), "duration_s": parse_duration(args.duration),
               "reason": args.reason}
    silence = carry_out(settings, _engine_wide(settings, "silence", payload))
    if args.json:
        print_json(silence.to_dict())
    else:
        print(text.silence_text(silence))
    return EXIT_OK


def cmd_ack(settings: Settings, args: argparse.Namespace) -> int:
    lines = carry_out(settings, _engine_wide(settings, "ack", {"ref": args.alert}))
    if args.json:
        print_json([line.to_dict() for line in lines])
    else:
        print(text.ack_text(lines))
    return EXIT_OK


def cmd_resolve(settings: Settings, args: argparse.Namespace) -> int:
    name = settings.target(args.target).name
    resolution: Resolution = carry_out(settings, Ask("resolve", name,
                                                     {"fingerprint": args.fingerprint},
                                                     attach=False))
    if args.json:
        print_json(jsonable(resolution))
    else:
        print(text.resolution_text(resolution))
    return EXIT_OK


def cmd_doctor(settings: Settings, args: argparse.Namespace) -> int:
    """The configuration against what runs: exit 1 with one line per thing to fix."""
    targets = [settings.target(args.target)] if args.target else list(settings.targets)
    found = [line for target in targets for line in doctor_lines(target, settings.state_dir)]
    if args.json:
        print_json({"problems": found})
    else:
        print_lines(found or ["doctor: nothing to fix"])
    return EXIT_PROBLEM if found else EXIT_OK
