"""A quiet check reads nothing from the store: what it needs (recent restarts, recent error
groups, firing alerts) is kept from the last read and read again only when a row may have
moved — this watcher wrote, or another process did (its ``-wal`` file moved). These say
it runs no SQL when nothing changed, and still sees what another process wrote."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from remi_ops.alerts.model import AlertKey
from remi_ops.alerts.rules import AlertRecord, Phase
from remi_ops.domain import Check, ErrorGroup, HealthReport, LogKind
from remi_ops.logs.redact import redact_patterns
from remi_ops.store.change_token import OutsideVersion
from remi_ops.store.database import Store
from remi_ops.testing import FakeClock
from remi_ops.watch.target import TargetWatch
from tests.remi_ops.watch.test_restart_count import attached_watch

RECENT_S = 600


@dataclass
class Rig:
    watch: TargetWatch
    clock: FakeClock
    store: Store
    db: Path
    statements: list[str] = field(default_factory=list)

    def check(self) -> HealthReport:
        self.statements.clear()
        return self.watch.check()

    def other_process(self) -> Store:
        """A second connection, as ``remi-ops`` run without the watcher opens one."""
        return Store.open(self.db, self.clock)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = attached_watch(tmp_path, health={"recent_errors_s": RECENT_S})
    rig = Rig(made.watch, made.clock, made.store, made.db)
    rig.store._conn.set_trace_callback(rig.statements.append)  # the real connection's SQL
    try:
        yield rig
    finally:
        rig.store.close()


def group(at: datetime, fingerprint: str = "abc") -> ErrorGroup:
    return ErrorGroup(fingerprint, "remi", redact_patterns("NameError: name 'x' is not defined"),
                      LogKind.CRASH, 1, at, at, redact_patterns("Traceback…"), "scoring.py")


def recent_errors(report: HealthReport) -> list[str]:
    return [f.summary for f in report.findings if f.check is Check.RECENT_ERRORS]


def test_a_quiet_check_runs_no_sql(rig: Rig) -> None:
    rig.check()
    rig.check()
    rig.clock.advance(10)
    rig.check()
    assert rig.statements == []


def test_an_error_group_another_process_added_shows_in_the_next_check(rig: Rig) -> None:
    assert recent_errors(rig.check()) == []
    rig.check()
    other = rig.other_process()
    try:
        other.upsert_error_groups("remi", [group(rig.clock.now())])
    finally:
        other.close()
    assert any("NameError" in s for s in recent_errors(rig.check()))
    assert rig.statements  # read again (and the move to "degraded" written)
    rig.check()
    assert any("NameError" in s for s in recent_errors(rig.check()))
    assert rig.statements == []  # quiet again


def test_a_firing_alert_another_process_saved_shows_in_the_next_check(rig: Rig) -> None:
    rig.check()
    other = rig.other_process()
    try:
        other.save_alert_state({"version": 1}, [("remi/gave_up/", "remi", AlertRecord(
            AlertKey("remi", "gave_up", ""), id="g", phase=Phase.FIRING,
            summary="restart budget spent", raw=True).to_dict())], [])
    finally:
        other.close()
    report = rig.check()
    assert [f.summary for f in report.findings if f.check is Check.ALERT_FIRING] == [
        "alert still firing: gave_up: restart budget spent"]


def test_this_watchers_own_write_is_seen_and_a_kept_group_ages_out(rig: Rig) -> None:
    rig.check()
    rig.store.upsert_error_groups("remi", [group(rig.clock.now())])  # leaves data_version
    assert any("NameError" in s for s in recent_errors(rig.check()))
    rig.check()  # reads once more after its own write of the move to "degraded"
    rig.clock.advance(RECENT_S / 2)
    assert any("NameError" in s for s in recent_errors(rig.check()))
    assert rig.statements == []
    rig.clock.advance(RECENT_S / 2 + 1)
    assert recent_errors(rig.check()) == []  # the window moved on by itself
    assert not any("error_groups" in s for s in rig.statements)  # (the move to healthy is)


def test_the_version_is_asked_only_when_the_wal_moved(tmp_path: Path) -> None:
    clock = FakeClock()
    store = Store.open(tmp_path / "s.db", clock)
    asked: list[int] = []

    def data_version() -> int:
        asked.append(1)
        return int(store.query("PRAGMA data_version")[0][0])

    try:
        outside = OutsideVersion(store.path, data_version)
        first = outside.current()
        assert outside.current() == first
        assert len(asked) == 1
        other = Store.open(store.path, clock)
        try:
            other.upsert_error_groups("remi", [group(datetime.now(UTC) - timedelta(1))])
        finally:
            other.close()
        assert outside.current() != first
        assert len(asked) == 2
        # the bound for a WAL rewritten to the same size within one clock tick
        assert OutsideVersion(store.path, data_version, trust_s=0).current() >= 0
        always = OutsideVersion(store.path, data_version, trust_s=0)
        always.current()
        always.current()
        assert len(asked) == 5
    finally:
        store.close()


def test_a_write_to_a_table_no_check_reads_keeps_what_was_read(rig: Rig) -> None:
    """The alert hub writes its engine's metadata with each commit, about once a second
    while checks report: the kept error groups and alerts stay (only the -wal moved, so
    ``data_version`` is asked once), while a written error group is read at once."""
    rig.check()
    rig.check()
    rig.store.put_state("alert_engine_meta_like", {"saved_seq": 7})
    rig.check()
    assert rig.statements == ["PRAGMA data_version"]
    rig.check()
    assert rig.statements == []
    rig.store.upsert_error_groups("remi", [group(rig.clock.now())])
    assert any("NameError" in s for s in recent_errors(rig.check()))


class CountedOutside:
    """The store's ``OutsideVersion`` with its looks (each a ``-wal`` stat) counted."""

    def __init__(self, real: OutsideVersion) -> None:
        self.real = real
        self.looks = 0

    def current(self) -> int:
        self.looks += 1
        return self.real.current()


def test_a_quiet_check_looks_at_the_wal_once(rig: Rig) -> None:
    """The restart count and the standing share one change-token look per check."""
    rig.check()
    counted = CountedOutside(rig.store._outside)
    rig.store._outside = counted  # type: ignore[assignment]  # a counting stand-in
    rig.clock.advance(10)
    rig.check()
    assert counted.looks == 1
