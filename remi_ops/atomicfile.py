"""Replace a file atomically: temp file in the same directory, fsync, rename over it.

A reader (``cat .bot_health``, the watcher reading Remi's beacon, the CLI polling for a
watcher's answer) sees the old content or the new, never half of either. Standard library
only: the beacon imports it inside Remi.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that no reader ever sees a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise


def write_json_atomically(path: Path, doc: Any) -> None:
    """``doc`` as indented, key-sorted JSON (readable with ``cat``), written atomically."""
    write_atomically(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
