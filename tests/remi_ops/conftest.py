"""Fixtures for engine tests that run real processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from remi_ops.host import reap_exited_children


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
