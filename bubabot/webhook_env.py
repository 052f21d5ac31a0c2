"""The webhook sink offered to ``remi-ops``: built from ``DISCORD_WEBHOOK_URL``, if set.

``remi-ops watch`` loads it through the ``remi_ops.sinks`` entry point group
(``remi_ops.alerts.sink_plugins``), so the engine stays free of Discord. This module is
light on purpose: every ``remi-ops`` command looks here, and discord.py is imported only
when a webhook is configured. Bubabot itself never adds it: its bot sink posts to the same
channel, and one notification must not be posted twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from remi_ops.exceptions import ConfigError

if TYPE_CHECKING:
    from bubabot.webhook import WebhookSink
    from remi_ops.config import Settings

WEBHOOK_ENV = "DISCORD_WEBHOOK_URL"
WANT = "https://discord.com/api/webhooks/<id>/<token>"


def sink_from_environment(settings: Settings, environ: Mapping[str, str]) -> WebhookSink | None:
    """The webhook sink for ``$DISCORD_WEBHOOK_URL``, or None when it is not set."""
    url = environ.get(WEBHOOK_ENV, "").strip()
    if not url:
        return None
    problem = url_problem(url)
    if problem:  # the value is never shown: it holds the webhook's token
        raise ConfigError([f"${WEBHOOK_ENV}: {problem} (want {WANT}; copy it from the "
                           "channel's Integrations → Webhooks)"])
    from bubabot.webhook import WebhookSink  # noqa: PLC0415 - discord.py only when configured

    return WebhookSink(url, settings.discord.oncall_role_id)


def url_problem(url: str) -> str:
    """Why ``url`` is not a webhook URL, or "" (any host: the emulator's is 127.0.0.1)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "not a URL"
    if parts.scheme not in {"https", "http"} or not parts.netloc:
        return "not an http(s) URL"
    segments = parts.path.rstrip("/").split("/")
    if len(segments) < 3 or segments[-3] != "webhooks" or not segments[-2].isdigit() \
            or not segments[-1]:
        return "does not end in /webhooks/<id>/<token>"
    return ""
