"""Has Remi's code changed? Its git HEAD moved, or files under the watched paths changed.

Plain file reads (no ``git`` subprocess): ``.git/HEAD``, the ref it names or
``packed-refs``, and the mtimes of watched files. Runs off the event loop.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from remi_ops.digests import sha1

MAX_FILES = 20_000
SKIP_DIRS = {".git", "__pycache__", ".venv", "venv", "node_modules", ".mypy_cache"}


@dataclass(frozen=True, slots=True)
class CodeState:
    """What the code looked like at one moment."""

    commit: str  # the HEAD commit id, "" when not a git checkout
    files: str  # a digest of (path, size, mtime) of the watched files

    def differs(self, other: CodeState) -> bool:
        return self != other

    @property
    def short(self) -> str:
        return self.commit[:10]


def git_head(workdir: Path) -> str:
    """The commit id HEAD points to, read from the files; "" when unknown."""
    git = workdir / ".git"
    if git.is_file():  # a worktree or submodule: "gitdir: <path>"
        text = _read(git)
        if text.startswith("gitdir:"):
            git = (workdir / text.split(":", 1)[1].strip()).resolve()
    head = _read(git / "HEAD")
    if not head.startswith("ref:"):
        return head if _is_sha(head) else ""
    ref = head.split(":", 1)[1].strip()
    value = _read(git / ref)
    if _is_sha(value):
        return value
    for line in _read(git / "packed-refs").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] == ref and _is_sha(parts[0]):
            return parts[0]
    return ""


def files_digest(workdir: Path, paths: Iterable[Path]) -> str:
    """A digest of size and mtime of every file under ``paths`` (bounded)."""
    digest = sha1(usedforsecurity=False)
    seen = 0
    for root in paths:
        base = root if root.is_absolute() else workdir / root
        for path in _walk(base):
            try:
                st = path.stat()
            except OSError:
                continue
            digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            seen += 1
            if seen >= MAX_FILES:
                return digest.hexdigest()
    return digest.hexdigest()


def code_state(workdir: Path, paths: Iterable[Path]) -> CodeState:
    return CodeState(git_head(workdir), files_digest(workdir, paths))


def _walk(base: Path) -> Iterable[Path]:
    if base.is_file():
        yield base
        return
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _is_sha(value: str) -> bool:
    return len(value) in (40, 64) and all(c in "0123456789abcdef" for c in value)
