"""Meta-tests that keep the architecture honest."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE_FORBIDDEN = {"discord", "apscheduler", "bubabot"}
#: the one seam to the OS: only these modules may start processes or send signals
OS_SEAM = {"process.py", "managers.py", "oscommands.py", "oslock.py"}
OS_MODULES = {"psutil", "subprocess", "signal", "fcntl"}
#: the beacon runs inside Remi and may register faulthandler on a signal
OS_EXCEPTIONS = {("beacon.py", "signal")}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


ENGINE_FILES = sorted((ROOT / "remi_ops").rglob("*.py"))


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: p.name)
def test_engine_never_imports_discord_or_the_scheduler(path: Path) -> None:
    """remi_ops is the pure engine: no discord, apscheduler or bubabot imports."""
    assert not imports_of(path) & ENGINE_FORBIDDEN


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: p.name)
def test_only_the_process_seam_touches_the_os(path: Path) -> None:
    """psutil, subprocess and signals live in one place."""
    if path.name in OS_SEAM:
        return
    leaked = {m for m in imports_of(path) & OS_MODULES if (path.name, m) not in OS_EXCEPTIONS}
    assert not leaked, f"{path.name} imports {leaked}"


def test_no_shell_anywhere() -> None:
    """Subprocesses get argv lists, never a shell."""
    for path in [*ENGINE_FILES, *sorted((ROOT / "bubabot").rglob("*.py"))]:
        assert "shell=True" not in path.read_text(encoding="utf-8"), path
