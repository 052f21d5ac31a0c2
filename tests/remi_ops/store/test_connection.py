"""Opening the store on real files: schema, migrations and damage handling."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from remi_ops.clock import FakeClock
from remi_ops.domain import ErrorGroup, LogKind
from remi_ops.exceptions import StoreError
from remi_ops.logs.redact import redact_patterns
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


def _version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT max(version) FROM schema_version").fetchone()[0])


def group(fp: str, clock: FakeClock, count: int = 1, ago_s: float = 0) -> ErrorGroup:
    at = clock.now() - timedelta(seconds=ago_s)
    return ErrorGroup(fp, "remi", redact_patterns(f"NameError {fp}"), LogKind.CRASH, count, at,
                      at, redact_patterns("tb"))


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


@pytest.mark.parametrize("attempt", range(3))
def test_processes_opening_a_new_file_at_once_all_succeed(tmp_path: Path,
                                                          attempt: int) -> None:
    """The watcher and ``remi-ops status`` may create the file together: no step twice."""
    path = tmp_path / f"new-{attempt}.db"
    script = ("import sys; from remi_ops.clock import SystemClock; "
              "from remi_ops.store.database import Store; "
              "Store.open(__import__('pathlib').Path(sys.argv[1]), SystemClock()).close()")
    openers = [subprocess.Popen([sys.executable, "-c", script, str(path)],
                                stderr=subprocess.PIPE) for _ in range(6)]
    errors = [p.communicate(timeout=60)[1] for p in openers]
    assert [(p.returncode, e) for p, e in zip(openers, errors, strict=True)
            if p.returncode != 0] == []
    with Store.open(path, FakeClock()) as store:
        assert store.query("SELECT max(version) AS v FROM schema_version")[0]["v"] == LATEST


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
