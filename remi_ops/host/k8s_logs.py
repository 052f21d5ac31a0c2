"""Pod logs copied into the target's ``stderr_log``, so the same tailer, parser, error
groups and log positions read them as they read a local Remi's.

Kubernetes keeps one merged stdout+stderr log per container run (and the one before it,
``previous=true``, after kubelet restarted it). Each copy asks for the lines since the last
timestamp it copied (``sinceTime`` with ``timestamps=true``); since ``sinceTime`` is
inclusive and may be rounded down by the API server, lines at or before that timestamp
are dropped, so a line is copied once. The last timestamp per container run is kept in a
small JSON file beside the log, so a restarted watcher neither repeats nor skips lines.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from remi_ops.atomicfile import write_json_atomically

log = logging.getLogger(__name__)
#: a container run's first copy reads at most this many of its last lines
FIRST_READ_LINES = 2000
#: container runs whose positions are kept (older ones are forgotten)
KEPT_RUNS = 20
#: ``(pod, previous, since) -> text`` with an RFC3339Nano timestamp before each line
FetchLog = Callable[[str, bool, str], str]


class PodLogMirror:
    """Copies new lines of a container's log into ``path``, each line once."""

    def __init__(self, path: Path, fetch: FetchLog) -> None:
        self.path = path
        self._fetch = fetch
        self._positions_file = path.with_name(path.name + ".k8s-positions.json")
        self._last: dict[str, str] = self._load()

    def copy(self, pod: str, container_id: str, *, previous: bool = False) -> int:
        """Append the new lines of ``pod``'s current (or previous) run; how many."""
        since = self._last.get(container_id, "")
        text = self._fetch(pod, previous, since)
        lines: list[str] = []
        newest = since
        for raw in text.splitlines():
            stamp, _, line = raw.partition(" ")
            if since and stamp_key(stamp) <= stamp_key(since):
                continue  # already copied (sinceTime is inclusive, maybe rounded)
            lines.append(line)
            newest = stamp if stamp_key(stamp) > stamp_key(newest) else newest
        if not lines:
            return 0
        with open(self.path, "a", encoding="utf-8") as out:
            out.write("".join(f"{line}\n" for line in lines))
        self._last[container_id] = newest
        self._save()
        return len(lines)

    def _load(self) -> dict[str, str]:
        try:
            doc = json.loads(self._positions_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in doc.items()} if isinstance(doc, dict) else {}

    def _save(self) -> None:
        kept = dict(list(self._last.items())[-KEPT_RUNS:])
        self._last = kept
        write_json_atomically(self._positions_file, kept)


def stamp_key(stamp: str) -> str:
    """An RFC3339Nano UTC timestamp that sorts as text: the fraction padded to 9 digits
    (the API server trims trailing zeros: ``…:05.1Z`` is after ``…:05.09Z``)."""
    body = stamp.rstrip("Z")
    whole, _, fraction = body.partition(".")
    return f"{whole}.{fraction.ljust(9, '0')}"
