"""Fixtures for engine tests: a fake clock and a store on a real file; cleaning up the
processes a test ran for real."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from remi_ops.clock import FakeClock
from remi_ops.host import reap_exited_children
from remi_ops.store.database import Store


@pytest.fixture
def reap_sims(tmp_path: Path) -> Iterator[None]:
    """Kill every process left running under ``tmp_path`` after the test."""
    yield
    killed = []
    for p in psutil.process_iter(["cwd"]):
        try:
            if p.info["cwd"] and p.info["cwd"].startswith(str(tmp_path)) and p.pid != os.getpid():
                p.kill()
                killed.append(p)
        except psutil.Error:
            continue
    psutil.wait_procs(killed, timeout=3)
    reap_exited_children()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    s = Store.open(tmp_path / "state.db", clock)
    yield s
    s.close()
