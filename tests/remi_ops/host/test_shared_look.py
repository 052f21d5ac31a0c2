"""A check's questions about its Remi share one read of the process's ``stat``."""

from __future__ import annotations

from pathlib import Path

import pytest
from bubabot_local.simkit import SLEEPER, bot_target

from remi_ops import host
from remi_ops.domain import ProcessIdentity
from remi_ops.host import identity, proc_stat
from remi_ops.host.proc_stat import StatLine

pytestmark = pytest.mark.integration


def _counted(monkeypatch: pytest.MonkeyPatch, pid: int) -> list[int]:
    """Every read of ``pid``'s stat line from here on, counted (identity's and the look's)."""
    reads: list[int] = []
    real = proc_stat.read_stat

    def counting(p: int, proc_dir: str = "/proc") -> StatLine | None:
        if p == pid:
            reads.append(p)
        return real(p, proc_dir)

    monkeypatch.setattr(identity, "read_stat", counting)
    monkeypatch.setattr("remi_ops.host.shared_look.read_stat", counting)
    return reads


def test_a_quiet_check_reads_the_process_stat_once(
        tmp_path: Path, spawned: list[ProcessIdentity],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshot, "is our child alive?" and the duplicate report: one ``stat`` read."""
    target = bot_target(tmp_path / "remi", SLEEPER)
    manager = host.DirectManager(target, tmp_path / "state")
    ident = manager.start()
    spawned.append(ident)
    assert manager.snapshot(ident, shared=True) is not None  # first look: verified, kept
    reads = _counted(monkeypatch, ident.pid)
    with host.one_look():
        snap = manager.snapshot(ident, shared=True)
        assert snap is not None and snap.identity == ident
        assert manager.find(shared=True) == [ident]
        assert host.is_alive(ident)
    assert len(reads) == 1


def test_outside_a_look_every_question_reads_afresh(
        tmp_path: Path, spawned: list[ProcessIdentity],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What acts (stops, signals, the exit waiter) never takes a line read earlier:
    outside a look each question reads the stat, and one look's lines end with it."""
    target = bot_target(tmp_path / "remi", SLEEPER)
    ident = host.spawn(target)
    spawned.append(ident)
    assert host.is_alive(ident)
    reads = _counted(monkeypatch, ident.pid)
    with host.one_look():
        assert host.is_alive(ident)
    assert host.is_alive(ident)
    assert host.snapshot(ident) is not None
    assert len(reads) == 3
