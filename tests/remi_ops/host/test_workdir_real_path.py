"""The duplicate report's workdir: resolved once, again when a symlink on the way moves."""

from __future__ import annotations

from pathlib import Path

import pytest
from bubabot_local.simkit import SLEEPER, bot_target

from remi_ops.host import adoption, proctable
from remi_ops.host.adoption import find_target_processes
from remi_ops.host.proctable import resolved_workdir


def _count_resolves(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    real = proctable.resolved

    def counting(path: Path) -> Path:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(proctable, "resolved", counting)
    return calls


def test_a_quiet_check_does_not_resolve_the_workdir_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "releases/one").mkdir(parents=True)
    link = tmp_path / "current"
    link.symlink_to(tmp_path / "releases/one")
    calls = _count_resolves(monkeypatch)
    for _ in range(5):
        assert resolved_workdir(link) == (tmp_path / "releases/one").resolve()
    assert calls == [link]


def test_a_repointed_symlink_is_followed_at_the_next_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deploy that flips ``current`` to a new release: the next report looks there."""
    (tmp_path / "releases/one").mkdir(parents=True)
    (tmp_path / "releases/two").mkdir()
    link = tmp_path / "current"
    link.symlink_to(tmp_path / "releases/one")
    assert resolved_workdir(link) == (tmp_path / "releases/one").resolve()
    link.unlink()
    link.symlink_to(tmp_path / "releases/two")
    assert resolved_workdir(link) == (tmp_path / "releases/two").resolve()


def test_a_kept_real_path_is_looked_up_again_when_old(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same directory under a new name (a stat cannot tell) is seen within the bound."""
    (tmp_path / "one").mkdir()
    link = tmp_path / "current"
    link.symlink_to(tmp_path / "one")
    assert resolved_workdir(link) == (tmp_path / "one").resolve()
    (tmp_path / "one").rename(tmp_path / "renamed")
    link.unlink()
    link.symlink_to(tmp_path / "renamed")
    assert resolved_workdir(link) == (tmp_path / "one").resolve()  # same inode: kept
    monkeypatch.setattr(proctable, "REAL_PATH_MAX_AGE_S", 0.0)
    assert resolved_workdir(link) == (tmp_path / "renamed").resolve()


def test_a_missing_workdir_is_resolved_as_before(tmp_path: Path) -> None:
    assert resolved_workdir(tmp_path / "gone") == proctable.resolved(tmp_path / "gone")


@pytest.mark.integration
def test_the_duplicate_report_resolves_the_workdir_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each check's duplicate look-up (``shared=True``) uses the kept real path; one
    without it (adoption, starts, stops) resolves afresh."""
    target = bot_target(tmp_path / "remi", SLEEPER)
    calls = _count_resolves(monkeypatch)
    monkeypatch.setattr(adoption, "resolved", proctable.resolved)
    for _ in range(3):
        assert find_target_processes(target, shared=True) == []
    assert calls.count(target.workdir) == 1
    find_target_processes(target)
    assert calls.count(target.workdir) == 2
