"""The digests behind fingerprints and file names, without loading OpenSSL.

Error-group and alert fingerprints (SHA-1), lock and pid-file names (SHA-256) and log
positions (BLAKE2b) are names, not security. ``hashlib`` loads OpenSSL's ``libcrypto`` as
it is imported (3.6 MB of RSS in a watcher that uses no TLS: issue 12), whichever digest
is asked for. CPython ships its own implementations of these three (the ``_sha1``,
``_sha2`` — ``_sha256`` before 3.12 — and ``_blake2`` extension modules, which
``hashlib`` itself falls back to): the same digests, bit for bit, without OpenSSL.

Those modules are private: each is looked up once, here, and ``hashlib``'s constructor
stands in for one a Python build lacks (some distributions build without them).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, Protocol


class Hash(Protocol):
    """What ``hashlib``'s hash objects and CPython's builtin ones both offer."""

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...


class Hasher(Protocol):
    """A constructor: ``sha1(data, usedforsecurity=False)``, ``blake2b(data, digest_size=8)``."""

    def __call__(self, data: bytes = ..., /, **options: Any) -> Hash: ...


def _constructor(name: str, *places: str) -> Hasher:
    """CPython's own ``name`` from the first of ``places`` that has it, else hashlib's."""
    for place in places:
        try:
            found: Hasher = getattr(import_module(place), name)
        except (ImportError, AttributeError):
            continue
        return found
    import hashlib  # noqa: PLC0415 - only when this Python has no builtin one (see above)

    fallback: Hasher = getattr(hashlib, name)
    return fallback


#: ``hashlib.sha1``'s equal (same arguments, same digest)
sha1 = _constructor("sha1", "_sha1")
#: ``hashlib.sha256``'s equal
sha256 = _constructor("sha256", "_sha2", "_sha256")
#: ``hashlib.blake2b``'s equal
blake2b = _constructor("blake2b", "_blake2")
