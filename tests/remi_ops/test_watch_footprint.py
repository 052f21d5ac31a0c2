"""What a plain `remi-ops watch` holds in memory (issue 12: its RSS).

It imports only what its configuration uses: each module below costs memory in every
watcher when imported at start, for a feature the configuration does not turn on (a JSON
log format, a log file, `service`, a full-file scan, launchd plists, an --env-file,
Kubernetes, Alertmanager, metrics, a heartbeat URL).
And its worker threads share two glibc malloc arenas (``remi_ops.host.malloc_arenas``).
A fresh interpreter runs `remi-ops watch`; once its target runs it lists its modules and
glibc lists its arenas (``malloc_stats()``: one ``Arena N:`` block each, on stderr).
What is alive after start-up is out of the collector's full passes
(``remi_ops.watch.longlived``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

#: not needed by a watcher of plain processes, logging text to the terminal
UNUSED_BY_A_PLAIN_WATCH = (
    "pythonjsonlogger",  # --log-format json only
    "logging.handlers",  # --log-file only (and it imports pickle)
    "pickle",
    "multiprocessing",  # the full-file scan's process pool (`remi-ops errors --file`)
    "concurrent.futures.process",
    "plistlib",  # launchd plists (`remi-ops service`)
    "xml.parsers.expat",
    "dotenv",  # --env-file, or a target with a .env
    "prometheus_client",  # [metrics] listen
    "aiohttp",  # heartbeat_url
    "remi_ops.alertmanager",  # [alertmanager]
    "remi_ops.host.kubernetes",  # manager = "kubernetes"
    # the configuration is msgspec structs: pydantic cost 8.3 MB at start (docs/scale.md)
    "pydantic",
    "pydantic_core",
    "remi_ops.config_problems",  # every problem of a refused configuration
    # the other subcommands' code (remi_ops.cli.subcommands): each imported where it runs
    "remi_ops.cli.commands",  # status, health, start, stop, restart, maintenance, scan-test
    "remi_ops.cli.admin",  # errors, history, alerts, silence, ack, resolve, doctor
    "remi_ops.cli.verbs",  # how those run a verb, in the watcher or themselves
    "remi_ops.cli.service",  # service: launchd and systemd
    "remi_ops.deploy.units",
    "remi_ops.deploy.oldjobs",
    "remi_ops.host.servicectl",
    "remi_ops.cli.configcmd",  # config check / init
    "remi_ops.cli.testalert",  # test-alert
    "remi_ops.watch.unwatched",  # doctor's advice
    "ssl",  # OpenSSL, when no feature that may use TLS is on (remi_ops.cli.tls_features)
    "_ssl",
    "_hashlib",  # OpenSSL's libcrypto: fingerprints use CPython's own digests (remi_ops.digests)
    "importlib.metadata",  # plug-in sinks read from entry_points.txt (alerts.plugin_entry_points)
)

#: ``remi-ops --config C watch`` in this interpreter; once the target runs, the modules are
#: written to OUT and the watcher stopped by SIGTERM as an operator would, then the target
#: killed
RUN_A_WATCH = """
import gc, json, os, signal, sys, threading, time
import psutil
from remi_ops.cli.main import main

def look_then_stop() -> None:
    me = psutil.Process()
    deadline = time.monotonic() + 60
    while not me.children() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # the start-up check and its alert: past the first commit
    with open(sys.argv[2], "w") as out:
        json.dump({"modules": sorted(sys.modules), "frozen": gc.get_freeze_count()}, out)
    if sys.platform.startswith("linux"):
        import ctypes
        ctypes.CDLL(None).malloc_stats()
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=look_then_stop, daemon=True).start()
try:
    main(["--config", sys.argv[1], "watch"])
finally:  # a stopped watcher leaves Remi running: this one is the test's
    for child in psutil.Process().children(recursive=True):
        child.kill()
"""


@dataclass
class PlainWatch:
    modules: set[str]
    arenas: int
    frozen: int  # objects kept out of full collections (remi_ops.watch.longlived)


@pytest.fixture(scope="module")
def plain_watch(tmp_path_factory: pytest.TempPathFactory) -> PlainWatch:
    tmp_path = tmp_path_factory.mktemp("plain-watch")
    workdir = tmp_path / "remi"
    workdir.mkdir()
    config = tmp_path / "bubabot.toml"
    config.write_text(f"""
[watchdog]
state_dir = "{tmp_path / 'state'}"

[[targets]]
name = "remi"
workdir = "{workdir}"
command = ["{sys.executable}", "-c", "import time; time.sleep(60)"]
""", encoding="utf-8")
    out = tmp_path / "modules.json"
    # glibc's default arenas; and no coverage in this child: measuring it imports
    # multiprocessing and pickle (coverage's own subprocess support), which a watch does not
    env = {k: v for k, v in os.environ.items()
           if k != "MALLOC_ARENA_MAX" and not k.startswith(("COV_CORE_", "COVERAGE_"))}
    done = subprocess.run([sys.executable, "-c", RUN_A_WATCH, str(config), str(out)],
                          capture_output=True, text=True, timeout=120, check=False, env=env)
    assert out.exists(), done.stderr
    seen = json.loads(out.read_text(encoding="utf-8"))
    return PlainWatch(set(seen["modules"]),
                      sum(1 for line in done.stderr.splitlines() if line.startswith("Arena ")),
                      seen["frozen"])


def test_a_plain_watch_leaves_unused_features_unimported(plain_watch: PlainWatch) -> None:
    loaded = plain_watch.modules
    assert "remi_ops.watch.watcher" in loaded  # the watcher ran: the list means something
    found = sorted(m for m in UNUSED_BY_A_PLAIN_WATCH
                   if m in loaded or any(n.startswith(m + ".") for n in loaded))
    assert found == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_a_watchers_threads_share_two_malloc_arenas(plain_watch: PlainWatch) -> None:
    if plain_watch.arenas == 0:
        pytest.skip("not glibc: no malloc_stats arenas to count")
    assert plain_watch.arenas == 2  # 8 without the limit (checks, deaths, asyncio's pool)


def test_a_watch_keeps_its_start_up_objects_out_of_full_collections(
        plain_watch: PlainWatch) -> None:
    """Each full collection would walk them all (tens of ms holding the GIL)."""
    assert plain_watch.frozen > 10_000
