"""Point an unmodified discord.py 2.7.1 at the local emulator.

Two class attributes decide where discord.py goes (see discord.md, "Patch points"):
`discord.http.Route.BASE` for REST (webhooks and interaction callbacks included) and
`discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY` for the first websocket (a plain Client
never asks `/gateway/bot`). A child process (the simulated Remi) gets both through the
environment and calls `patch_from_env()` before it builds its client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

import discord.gateway
import discord.http
import yarl

ENV_API_BASE = "BUBABOT_DISCORD_API_BASE"
ENV_GATEWAY = "BUBABOT_DISCORD_GATEWAY"

_ORIGINAL_BASE = discord.http.Route.BASE
_ORIGINAL_GATEWAY = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


class EmulatorAddress(Protocol):
    """Anything that knows the emulator's REST base and gateway URL (the emulator does)."""

    @property
    def api_base(self) -> str:
        """e.g. http://127.0.0.1:PORT/api/v10"""
        ...

    @property
    def gateway_url(self) -> str:
        """e.g. ws://127.0.0.1:PORT/gateway/"""
        ...


def patch_discord_py(target: EmulatorAddress | tuple[str, str]) -> None:
    """Send discord.py's REST and gateway traffic to the emulator. Idempotent.

    `target` is the emulator (or anything with `api_base` and `gateway_url`), or a tuple
    `(api_base, gateway_url)`. Do not call `discord.http._set_api_version()` afterwards: it
    resets the REST base to discord.com.
    """
    if isinstance(target, tuple):
        api_base, gateway_url = target
    else:
        api_base, gateway_url = target.api_base, target.gateway_url
    discord.http.Route.BASE = api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def unpatch_discord_py() -> None:
    """Restore discord.py's real Discord endpoints."""
    discord.http.Route.BASE = _ORIGINAL_BASE
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = _ORIGINAL_GATEWAY


def is_patched() -> bool:
    """Whether discord.py currently points somewhere other than discord.com."""
    return discord.http.Route.BASE != _ORIGINAL_BASE


def emulator_env(target: EmulatorAddress) -> dict[str, str]:
    """The environment variables a child process needs for `patch_from_env()`."""
    return {ENV_API_BASE: target.api_base, ENV_GATEWAY: target.gateway_url}


def patch_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Patch discord.py when both variables are set; return whether it did.

    Setting only one of them is a configuration mistake (half the traffic would go to the
    real Discord), so it raises instead of guessing.
    """
    env = os.environ if environ is None else environ
    api_base, gateway_url = env.get(ENV_API_BASE), env.get(ENV_GATEWAY)
    if not api_base and not gateway_url:
        return False
    if not api_base or not gateway_url:
        raise ValueError(f"set both {ENV_API_BASE} and {ENV_GATEWAY}, or neither")
    patch_discord_py((api_base, gateway_url))
    return True
