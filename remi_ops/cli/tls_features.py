"""Which configured features may speak TLS; a watch that turns on none runs without ``ssl``.

``asyncio`` imports ``ssl`` as it is imported, and ``ssl`` loads OpenSSL (``libssl``,
``libcrypto``, ``_ssl``: 4.4 MB of RSS, issue 12), which a watcher of plain processes
that logs to the terminal never uses. The features that may (an https heartbeat URL,
Kubernetes' API, the metrics and Alertmanager servers and Alertmanager's API, any alert
sink a plug-in offers, such as Discord's webhook) are all known from the configuration
and the plug-in sinks before the watcher is built. So ``remi-ops watch``, when none of
them is on, keeps ``ssl`` out before it imports ``asyncio``, which copes (its TLS calls
then refuse with "Python was not built with ssl"). The choice is made once, at start,
and cannot change while the watcher runs (its configuration is read once).

Should anything still ask for ``ssl`` (a feature added without a line here), the import
fails with a message that says why and where to add it, instead of a half-working
process: ``tests/remi_ops/cli/test_tls_features.py`` lists every module that can reach
TLS and fails when a new one appears.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from remi_ops.alerts.outbox import Sink
    from remi_ops.config import Settings

#: what keeping ``ssl`` out blocks: the module and its C part
SSL_MODULES = frozenset({"ssl", "_ssl"})


def tls_features(settings: Settings, plugin_sinks: Sequence[Sink]) -> list[str]:
    """The features turned on that may use TLS, each as the operator configured it."""
    found = ["watchdog.heartbeat_url"] if settings.watchdog.heartbeat_url else []
    found += [f"targets.{t.name}.manager = kubernetes" for t in settings.targets
              if t.manager == "kubernetes"]
    if settings.metrics.listen:
        found.append("metrics.listen")
    if settings.alertmanager.listen or settings.alertmanager.api_url:
        found.append("alertmanager")
    found += [f"the {sink.name} alert sink (a plug-in)" for sink in plugin_sinks]
    return found


class SslLeftOut:
    """A finder, first on ``sys.meta_path``, that refuses ``ssl`` with the reason."""

    def find_spec(self, name: str, path: object = None,
                  target: object = None) -> ModuleSpec | None:
        if name in SSL_MODULES:
            raise ImportError(
                f"{name} was left out of this remi-ops watch: its configuration turns on "
                "no feature that uses TLS (remi_ops.cli.tls_features lists them; a "
                "feature that needs TLS must be listed there)", name=name)
        return None


def leave_ssl_out(settings: Settings, plugin_sinks: Sequence[Sink]) -> bool:
    """Keep ``ssl`` out of this process when nothing configured may use it; True if so.

    Only in a process that has not imported ``ssl`` or ``asyncio`` yet (``asyncio`` keeps
    the ``ssl`` it found): elsewhere, e.g. a watch run inside a test, it does nothing.
    """
    if tls_features(settings, plugin_sinks) or {"ssl", "asyncio"} & set(sys.modules):
        return False
    sys.meta_path.insert(0, SslLeftOut())
    return True
