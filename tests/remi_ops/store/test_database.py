"""The SQLite store on real files: schema, migrations, damage handling and every table."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from remi_ops.clock import FakeClock
from remi_ops.domain import ErrorGroup, LogKind, RestartReport, ScanOutcome, ScanResult, Severity
from remi_ops.exceptions import StoreError
from remi_ops.store.database import Store, StoreCorrupt
from remi_ops.store.schema import LATEST, MIGRATIONS

# The version-1 schema exactly as the first release wrote it, kept here (not imported)
# so the test keeps meaning "a file from the past" even if migrations.py is edited.
V1_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE incidents (id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL,
    opened_at TEXT NOT NULL, closed_at TEXT, title TEXT NOT NULL, severity TEXT NOT NULL,
    summary TEXT NOT NULL);
CREATE TABLE transitions (id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL,
    at TEXT NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE restarts (id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL,
    at TEXT NOT NULL, reason TEXT NOT NULL, trigger TEXT NOT NULL, requested_by TEXT NOT NULL,
    ok INTEGER NOT NULL, duration_s REAL NOT NULL, old_pid INTEGER, new_pid INTEGER,
    detail TEXT NOT NULL);
CREATE TABLE error_groups (target TEXT NOT NULL, fingerprint TEXT NOT NULL,
    title TEXT NOT NULL, kind TEXT NOT NULL, count INTEGER NOT NULL, first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL, sample TEXT NOT NULL, culprit TEXT NOT NULL,
    PRIMARY KEY (target, fingerprint));
CREATE TABLE scans (id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL,
    started_at TEXT NOT NULL, outcome TEXT NOT NULL, duration_s REAL NOT NULL,
    exit_code INTEGER, output TEXT NOT NULL, reason TEXT NOT NULL, fingerprint TEXT NOT NULL,
    over_budget INTEGER NOT NULL, commit_sha TEXT NOT NULL);
CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
    actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, arguments TEXT NOT NULL,
    result TEXT NOT NULL, ok INTEGER NOT NULL, duration_s REAL NOT NULL);
CREATE TABLE log_positions (target TEXT NOT NULL, stream TEXT NOT NULL,
    position TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (target, stream));
CREATE TABLE kv_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL);
INSERT INTO restarts (target, at, reason, trigger, requested_by, ok, duration_s, old_pid,
    new_pid, detail) VALUES ('remi', '2026-01-24T02:00:00.000000Z', 'crash', 'crash',
    'watchdog', 1, 2.5, 10, 11, '');
INSERT INTO error_groups VALUES ('remi', 'fp1', 'NameError', 'crash', 3,
    '2026-01-24T01:00:00.000000Z', '2026-01-24T02:00:00.000000Z', 'Traceback', '');
INSERT INTO kv_state VALUES ('supervisor:remi', '{"state": "running"}',
    '2026-01-24T02:00:00.000000Z');
"""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    s = Store.open(tmp_path / "state.db", clock)
    yield s
    s.close()


def _version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT max(version) FROM schema_version").fetchone()[0])


def group(fp: str, clock: FakeClock, count: int = 1, ago_s: float = 0) -> ErrorGroup:
    at = clock.now() - timedelta(seconds=ago_s)
    return ErrorGroup(fp, "remi", f"NameError {fp}", LogKind.CRASH, count, at, at, "tb")


# ---------------------------------------------------------------------- schema


def test_new_file_is_created_at_latest_version_in_wal_mode(tmp_path: Path,
                                                           clock: FakeClock) -> None:
    """An empty path becomes a database at the newest schema, WAL, foreign keys on."""
    path = tmp_path / "sub" / "state.db"
    with Store.open(path, clock) as s:
        assert s.query("PRAGMA journal_mode")[0][0] == "wal"
        assert s.query("PRAGMA foreign_keys")[0][0] == 1
    assert _version(path) == LATEST == len(MIGRATIONS)


def test_previous_version_file_is_migrated_keeping_its_data(tmp_path: Path,
                                                            clock: FakeClock) -> None:
    """A v1 file written by the first release opens, upgrades, and keeps its rows."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_SCHEMA)
    with Store.open(path, clock) as s:
        (restart,) = s.restarts("remi", clock.now() - timedelta(days=1))
        assert restart.reason == "crash" and restart.evidence == ""
        (g,) = s.error_groups("remi")
        assert g.count == 3 and g.resolved_at is None
        assert s.get_state("supervisor:remi") == {"state": "running"}
        assert s.upsert_error_groups("remi", [group("fp1", clock)]) == []  # an hour later
        clock.advance(2 * 86400)
        assert s.upsert_error_groups("remi", [group("fp1", clock)]) == ["fp1"]  # quiet > 24 h
    assert _version(path) == LATEST


def test_newer_schema_is_refused_untouched(tmp_path: Path, clock: FakeClock) -> None:
    """A file from newer code is not written to: clear error, file unchanged."""
    path = tmp_path / "new.db"
    with Store.open(path, clock):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = ?", (LATEST + 1,))
    before = path.read_bytes()
    with pytest.raises(StoreError, match=rf"schema version {LATEST + 1} is newer"):
        Store.open(path, clock)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.corrupt-*"))


@pytest.mark.parametrize("content", [b"this is not a database at all" * 100,
                                     b"SQLite format 3\x00" + b"\xff" * 4000])
def test_corrupt_file_is_set_aside_and_a_fresh_one_opened(tmp_path: Path, clock: FakeClock,
                                                          content: bytes) -> None:
    """Never overwrite: the damaged file is renamed and the caller told its new name."""
    path = tmp_path / "state.db"
    path.write_bytes(content)
    with Store.open(path, clock) as s:
        assert s.recovery is not None
        aside = s.recovery.set_aside
        assert aside.name == "state.db.corrupt-20260124T030000Z"
        assert str(aside) in s.recovery.message
        s.put_state("k", 1)
    assert aside.read_bytes() == content
    assert _version(path) == LATEST


def test_corrupt_file_can_be_refused_instead(tmp_path: Path, clock: FakeClock) -> None:
    """With recover=False the caller gets StoreCorrupt naming the set-aside file."""
    path = tmp_path / "state.db"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(StoreCorrupt) as info:
        Store.open(path, clock, recover=False)
    assert info.value.set_aside.exists()
    assert str(info.value.set_aside) in str(info.value)
    assert not path.exists()


def test_set_aside_names_never_collide(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "state.db"
    for _ in range(2):
        path.write_bytes(b"garbage" * 1000)
        Store.open(path, clock).close()
        path.unlink()
        path.with_name("state.db-wal").unlink(missing_ok=True)
        path.with_name("state.db-shm").unlink(missing_ok=True)
    assert len(list(tmp_path.glob("state.db.corrupt-*"))) == 2


# ---------------------------------------------------------------------- tables


def test_incidents_open_once_close_and_list(store: Store, clock: FakeClock) -> None:
    """Opening twice returns the same open incident; closing sets a duration."""
    a = store.open_incident("remi", "remi down", Severity.PAGE, "process gone")
    assert store.open_incident("remi", "again", Severity.PAGE).id == a.id
    clock.advance(90)
    closed = store.close_incident(a.id, summary="restarted")
    assert closed is not None and closed.duration_s == 90 and closed.summary == "restarted"
    assert store.close_incident(999) is None
    assert [i.id for i in store.incidents(clock.now() - timedelta(hours=1))] == [a.id]
    assert store.incidents(clock.now() + timedelta(seconds=1)) == []


def test_transitions_in_order(store: Store, clock: FakeClock) -> None:
    start = clock.now()
    store.record_transition("remi", None, "running", "unhealthy", "loop lag 850 s")
    clock.advance(5)
    store.record_transition("remi", clock.now(), "unhealthy", "restarting", "hang")
    store.record_transition("other", None, "running", "stopped", "operator")
    got = store.transitions("remi", start)
    assert [(t.from_state, t.to_state) for t in got] == [("running", "unhealthy"),
                                                          ("unhealthy", "restarting")]


def test_restarts_round_trip_and_count(store: Store, clock: FakeClock) -> None:
    report = RestartReport("remi", "event loop blocked", "hang", "watchdog", True,
                           clock.now(), 3.25, 100, 200, "ok", "stack dump")
    store.record_restart(report)
    clock.advance(60)
    store.record_restart(RestartReport("remi", "crash", "crash", "watchdog", False,
                                       clock.now(), 1.0))
    since = clock.now() - timedelta(hours=1)
    assert store.restarts("remi", since)[1] == report
    assert store.count_restarts("remi", since) == 2
    assert store.count_restarts("remi", clock.now()) == 1


ERROR_GROUP_CASES = [
    # (previous occurrence s ago or None, resolved before?, expected new-or-regressed)
    (None, False, True),  # first seen
    (60, False, False),  # repeat within the day: count only
    (86400, False, True),  # quiet 24 h: regression
    (60, True, True),  # seen after being resolved: regression
]


@pytest.mark.parametrize(("previous_ago", "resolved", "expected"), ERROR_GROUP_CASES)
def test_error_group_new_or_regressed(store: Store, clock: FakeClock, previous_ago: float | None,
                                      resolved: bool, expected: bool) -> None:
    if previous_ago is not None:
        store.upsert_error_groups("remi", [group("fp", clock, 2, previous_ago)])
        if resolved:
            assert store.resolve_error_group("remi", "fp", clock.now() - timedelta(seconds=30))
    assert (store.upsert_error_groups("remi", [group("fp", clock, 3)]) == ["fp"]) is expected
    (g,) = store.error_groups("remi")
    assert g.count == (5 if previous_ago is not None else 3) and g.resolved_at is None


def test_error_groups_newest_first_with_limit(store: Store, clock: FakeClock) -> None:
    store.upsert_error_groups("remi", [group(f"fp{i}", clock, ago_s=100 - i) for i in range(5)])
    assert [g.fingerprint for g in store.error_groups("remi", limit=3)] == ["fp4", "fp3", "fp2"]
    since = clock.now() - timedelta(seconds=97)
    assert [g.fingerprint for g in store.error_groups("remi", since)] == ["fp4", "fp3"]


def test_scans(store: Store, clock: FakeClock) -> None:
    assert store.last_scan("remi") is None
    first = ScanResult("remi", ScanOutcome.FAILED, clock.now(), 12.0, 1, "NameError", "exit 1")
    clock.advance(60)
    second = ScanResult("remi", ScanOutcome.PASSED, clock.now(), 3.0, 0, over_budget=True)
    store.record_scan(first)
    store.record_scan(second)
    assert store.last_scan("remi") == second
    assert store.scans("remi", clock.now() - timedelta(hours=1)) == [second, first]


def test_audit_log(store: Store, clock: FakeClock) -> None:
    store.audit("discord:1 (ann)", "restart", "remi", arguments={"reason": "stuck"},
                result="restarted", ok=True, duration_s=4.2)
    clock.advance(1)
    store.audit("discord:2 (bob)", "silence", "remi", arguments={}, result="denied", ok=False,
                duration_s=0.0)
    entries = store.audit_log(limit=10)
    assert [e.actor for e in entries] == ["discord:2 (bob)", "discord:1 (ann)"]
    assert entries[1].arguments == {"reason": "stuck"} and entries[1].ok
    assert len(store.audit_log(since=clock.now())) == 1


def test_positions_and_state(store: Store) -> None:
    assert store.load_position("remi", "stderr") is None
    store.save_position("remi", "stderr", {"inode": 5, "offset": 10})
    store.save_position("remi", "stderr", {"inode": 5, "offset": 20})
    assert store.load_position("remi", "stderr") == {"inode": 5, "offset": 20}
    assert store.get_state("x") is None
    store.put_state("x", {"a": [1, 2]})
    assert store.get_state("x") == {"a": [1, 2]}


def test_history_merges_incidents_and_restarts(store: Store, clock: FakeClock) -> None:
    start = clock.now()
    inc = store.open_incident("remi", "remi down", Severity.PAGE)
    clock.advance(10)
    store.record_restart(RestartReport("remi", "crash", "crash", "watchdog", True,
                                       clock.now(), 2.0))
    clock.advance(50)
    store.close_incident(inc.id)
    items = store.history(start)
    assert [(i.kind, i.duration_s) for i in items] == [("restart", 2.0), ("incident", 60.0)]


def test_store_is_usable_from_many_threads(store: Store) -> None:
    """Callers use asyncio.to_thread: concurrent writers must neither fail nor lose rows."""
    def work(n: int) -> None:
        for i in range(50):
            store.put_state(f"t{n}-{i}", i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.query("SELECT count(*) FROM kv_state")[0][0] == 400


def test_naive_datetimes_are_rejected(store: Store, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.record_transition("remi", clock.now().replace(tzinfo=None), "a", "b", "c")
