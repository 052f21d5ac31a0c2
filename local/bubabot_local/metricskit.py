"""Reading a watcher's ``/metrics`` the way Prometheus does: over HTTP, parsed with
prometheus_client's own parser (so a malformed exposition fails the test), values looked
up by name and labels."""

from __future__ import annotations

import socket
import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


@dataclass(frozen=True, slots=True)
class Scrape:
    """One parsed scrape."""

    text: str
    types: dict[str, str]  # family name → counter, gauge, …
    samples: tuple[Sample, ...]

    def value(self, name: str, **labels: str) -> float | None:
        """The one sample called ``name`` whose labels include ``labels``; None if none."""
        found = [s.value for s in self.samples
                 if s.name == name and labels.items() <= s.labels.items()]
        if len(found) > 1:
            raise AssertionError(f"{name}{labels} matches {len(found)} samples")
        return found[0] if found else None


def parse(text: str) -> Scrape:
    families = list(text_string_to_metric_families(text))
    return Scrape(text, {f.name: f.type for f in families},
                  tuple(s for f in families for s in f.samples))


def scrape(listen: str, timeout_s: float = 5.0) -> Scrape:
    """GET ``http://<listen>/metrics`` and parse it (blocking)."""
    with urllib.request.urlopen(f"http://{listen}/metrics", timeout=timeout_s) as answer:
        return parse(answer.read().decode("utf-8"))


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
