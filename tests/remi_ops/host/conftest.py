"""Fixtures for the OS seam tests: every process a test leaves behind is killed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bubabot_local.simkit import kill_leftovers

from remi_ops import host
from remi_ops.domain import ProcessIdentity


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path: Path) -> Iterator[None]:
    """After each test, kill whatever still runs with its cwd under ``tmp_path``."""
    yield
    kill_leftovers(tmp_path)


@pytest.fixture
def spawned(tmp_path: Path) -> Iterator[list[ProcessIdentity]]:
    """Identities spawned by a test; stopped (and reaped) afterwards, leftovers killed."""
    idents: list[ProcessIdentity] = []
    yield idents
    for ident in idents:
        host.stop(ident, 0.2)
    kill_leftovers(tmp_path)
