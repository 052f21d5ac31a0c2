"""A ``remi-ops watch`` that turns on nothing that may use TLS runs without ``ssl``
(``remi_ops.cli.tls_features``): OpenSSL's 4.4 MB stay out of its RSS, and anything that
still asks for ``ssl`` learns why, at once."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from remi_ops.alerts.outbox import Sink
from remi_ops.cli import tls_features
from remi_ops.config import Settings
from remi_ops.config_file import load_settings

PACKAGE = Path(tls_features.__file__).parents[1]
#: what a module importing one of these may speak TLS through
TLS_CLIENTS = {"aiohttp", "ssl", "_ssl", "httpx", "kr8s", "kubernetes", "prometheus_client",
               "urllib3", "requests", "http.client", "urllib.request", "smtplib"}
#: every module of remi_ops that imports one, and the feature (in tls_features) it serves
SERVES_A_TLS_FEATURE = {
    "watch/deadman.py": "watchdog.heartbeat_url",
    "host/k8s_api.py": "manager = kubernetes",
    "metrics/collector.py": "metrics.listen",
    "metrics/exporter.py": "metrics.listen",
    "metrics/server.py": "metrics.listen",
    "alertmanager/receiver.py": "alertmanager",
    "alertmanager/silences.py": "alertmanager",
}
PLAIN = '[watchdog]\nstate_dir = "{d}/state"\n[[targets]]\nname = "remi"\nworkdir = "{d}"\n' \
    'command = ["sleep", "60"]\n'
FEATURES = {
    "watchdog.heartbeat_url": PLAIN.replace(
        "[watchdog]\n", '[watchdog]\nheartbeat_url = "https://hc-ping.com/x"\n'),
    "targets.remi.manager = kubernetes": PLAIN.replace(
        'command = ["sleep", "60"]', 'manager = "kubernetes"\nnamespace = "bots"\n'
        'deployment = "remi"\ncontainer = "bot"'),
    "metrics.listen": PLAIN + '[metrics]\nlisten = "127.0.0.1:9808"\n',
    "alertmanager": PLAIN + '[alertmanager]\nlisten = "127.0.0.1:9809"\n',
}


class PluggedIn:
    """A plug-in's sink, as ``extra_sinks`` returns it."""

    name = "pager"

    def deliver(self, notification: object) -> None:
        del notification


def settings(tmp_path: Path, toml: str) -> Settings:
    path = tmp_path / "bubabot.toml"
    path.write_text(toml.format(d=tmp_path), encoding="utf-8")
    return load_settings(path)


def test_a_plain_watch_turns_on_no_tls_feature(tmp_path: Path) -> None:
    assert tls_features.tls_features(settings(tmp_path, PLAIN), []) == []


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_each_feature_that_may_use_tls_is_named(tmp_path: Path, feature: str) -> None:
    assert tls_features.tls_features(settings(tmp_path, FEATURES[feature]), []) == [feature]


def test_a_plugin_sink_may_use_tls(tmp_path: Path) -> None:
    sink: Sink = PluggedIn()  # type: ignore[assignment]  # a sink needs only name and deliver
    assert tls_features.tls_features(settings(tmp_path, PLAIN), [sink]) == \
        ["the pager alert sink (a plug-in)"]


#: in a fresh interpreter: leave_ssl_out for the configuration in argv[1], then asyncio
FRESH = """
import sys
from pathlib import Path
from remi_ops.config_file import load_settings
from remi_ops.cli.tls_features import leave_ssl_out
print(leave_ssl_out(load_settings(Path(sys.argv[1])), []))
import asyncio, asyncio.base_events
print(asyncio.base_events.ssl is None, "_ssl" in sys.modules)
asyncio.run(asyncio.sleep(0))  # the loop runs without it
try:
    import ssl
except ImportError as exc:
    print(exc)
"""


def fresh(tmp_path: Path, toml: str) -> list[str]:
    path = tmp_path / "bubabot.toml"
    path.write_text(toml.format(d=tmp_path), encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", FRESH, str(path)], capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout.splitlines()


def test_without_tls_features_ssl_stays_out_and_says_why(tmp_path: Path) -> None:
    left_out, none_and_unloaded, why = fresh(tmp_path, PLAIN)
    assert (left_out, none_and_unloaded) == ("True", "True False")
    assert why.startswith("ssl was left out of this remi-ops watch: its configuration turns "
                          "on no feature that uses TLS")


def test_with_a_tls_feature_ssl_loads(tmp_path: Path) -> None:
    assert fresh(tmp_path, FEATURES["watchdog.heartbeat_url"]) == ["False", "False True"]


def test_a_process_that_has_asyncio_already_is_left_as_it_is(tmp_path: Path) -> None:
    """A watch run inside another program (a test, Bubabot) changes nothing there."""
    assert tls_features.leave_ssl_out(settings(tmp_path, PLAIN), []) is False
    assert not any(isinstance(f, tls_features.SslLeftOut) for f in sys.meta_path)


def test_every_module_that_can_reach_tls_serves_a_listed_feature() -> None:
    """A new one fails here: add its feature to ``tls_features`` (else a watch without
    ``ssl`` would refuse it) and to this table."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n in TLS_CLIENTS or n.split(".")[0] in TLS_CLIENTS for n in names):
                found.add(path.relative_to(PACKAGE).as_posix())
    assert found == set(SERVES_A_TLS_FEATURE)
