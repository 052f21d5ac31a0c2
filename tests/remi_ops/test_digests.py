"""Fingerprints and file names from CPython's own digests (``remi_ops.digests``): the same
values as ``hashlib``'s — they are persisted (error groups, alert keys, log positions) and
name files (locks, pid files) — without loading OpenSSL into every watcher."""

from __future__ import annotations

import ast
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from remi_ops import digests

PACKAGE = Path(digests.__file__).parent
#: modules that may import hashlib (or hmac): features off unless configured
MAY_LOAD_OPENSSL = {"alertmanager/groups.py", "alertmanager/receiver.py"}
SAMPLES = [b"", b"remi", b"Traceback\n  File \"x\"", bytes(range(256)) * 40]


@pytest.mark.parametrize("data", SAMPLES)
def test_each_digest_is_hashlibs(data: bytes) -> None:
    assert digests.sha1(data, usedforsecurity=False).hexdigest() == \
        hashlib.sha1(data, usedforsecurity=False).hexdigest()
    assert digests.sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
    assert digests.blake2b(data, digest_size=8).hexdigest() == \
        hashlib.blake2b(data, digest_size=8).hexdigest()


def test_a_digest_fed_piece_by_piece_is_the_same() -> None:
    """How ``checks.codewatch`` digests the files it watches."""
    ours, theirs = digests.sha1(usedforsecurity=False), hashlib.sha1(usedforsecurity=False)
    for piece in SAMPLES:
        ours.update(piece)
        theirs.update(piece)
    assert ours.hexdigest() == theirs.hexdigest()


def test_a_python_without_the_builtin_uses_hashlibs() -> None:
    assert digests._constructor("sha1", "no_such_module") is hashlib.sha1


def test_the_digests_load_no_openssl() -> None:
    # no coverage in this child: measuring it imports hashlib itself
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "COVERAGE_"))}
    done = subprocess.run(
        [sys.executable, "-c", "import sys, remi_ops.digests as d; d.sha1(b'x'); "
         "d.sha256(b'x'); d.blake2b(b'x'); print(sorted({'_hashlib', 'hashlib', '_ssl'} "
         "& set(sys.modules)))"], capture_output=True, text=True, check=True, timeout=60,
        env=env)
    assert done.stdout.strip() == "[]"


def test_only_features_that_are_off_by_default_import_hashlib() -> None:
    """Every other digest goes through ``remi_ops.digests``."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if {"hashlib", "hmac", "secrets"} & {n.split(".")[0] for n in names}:
                found.add(path.relative_to(PACKAGE).as_posix())
    assert found - {"digests.py"} <= MAY_LOAD_OPENSSL
