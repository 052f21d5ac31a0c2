"""Leftovers of Remi swept by a restart or a stop are reported, not only logged: a real
Remi (a small bot) forks helpers that ``setsid`` out of its tree; a real watch with its
SQLite store restarts and stops it; each sweep is one event on the target's stream,
journaled with the restart for the alert engine (a message in #quick-tasks).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from bubabot_local.simkit import gone, write_bot

from remi_ops.clock import SystemClock
from remi_ops.config_file import parse_settings
from remi_ops.domain import EventKind, Severity
from remi_ops.store.database import Store
from remi_ops.testing import RecordingNotifier, wait_until
from remi_ops.watch.target import TargetWatch

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("reap_sims")]

#: forks two helpers that leave the tree (double fork + setsid) and write their pids
ESCAPER = """
import os, pathlib, sys, time

def escape(name):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            pathlib.Path(name + ".tmp").write_text(str(os.getpid()))
            os.rename(name + ".tmp", name + ".pid")
            time.sleep(60)
        os._exit(0)
    os.wait()

escape("helper-a")
escape("helper-b")
time.sleep(60)
"""


@pytest.fixture
def watch(tmp_path: Path) -> Iterator[tuple[TargetWatch, RecordingNotifier]]:
    workdir = write_bot(tmp_path / "remi", ESCAPER)
    settings = parse_settings({
        "watchdog": {"state_dir": str(tmp_path / "state")},
        "targets": [{"name": "remi", "workdir": str(workdir),
                     "command": [sys.executable, "bot.py"],
                     "restart": {"stop_grace_s": 2}}]}, base_dir=tmp_path)
    clock = SystemClock()
    notes = RecordingNotifier()
    with Store.open(tmp_path / "store.sqlite3", clock) as store:
        watch = TargetWatch(settings, settings.targets[0], store=store, clock=clock,
                            notifier=notes, environ={})
        watch.startup()
        try:
            yield watch, notes
        finally:
            watch.stop("test", "cleaning up")


def helpers(workdir: Path) -> list[int]:
    """The pids the current Remi's helpers wrote (waiting until both did)."""
    files = [workdir / "helper-a.pid", workdir / "helper-b.pid"]
    wait_until(lambda: all(f.exists() for f in files), what="the escaped helpers")
    pids = [int(f.read_text()) for f in files]
    for f in files:
        f.unlink()
    return pids


def swept(notes: RecordingNotifier) -> list[str]:
    return [e.summary for e in notes.events if e.kind is EventKind.SWEPT]


def test_a_restart_reports_the_leftovers_it_swept(
        watch: tuple[TargetWatch, RecordingNotifier]) -> None:
    target_watch, notes = watch
    workdir = target_watch.target.workdir
    first = helpers(workdir)
    target_watch.restart("ops", "testing the sweep")
    assert all(gone(pid) for pid in first)
    assert swept(notes) == [f"swept 2 leftover processes of remi: pids "
                            f"{first[0]}, {first[1]}"]
    [event] = [e for e in notes.events if e.kind is EventKind.SWEPT]
    assert event.severity is Severity.WARNING and event.data == {"pids": first}
    kinds = [e.kind for e in notes.events]
    assert kinds.index(EventKind.RESTART) < kinds.index(EventKind.SWEPT)
    journal = target_watch.store.query(
        "SELECT summary, details FROM event_journal WHERE kind = 'swept'")
    assert [(row["summary"], json.loads(row["details"])) for row in journal] == [
        (swept(notes)[0], {"pids": first})]  # in the store with the restart, for the outbox

    second = helpers(workdir)  # the new Remi's own helpers: swept by a stop, said again
    target_watch.stop("ops", "testing the sweep")
    assert all(gone(pid) for pid in second)
    assert swept(notes)[1:] == [f"swept 2 leftover processes of remi: pids "
                                f"{second[0]}, {second[1]}"]
