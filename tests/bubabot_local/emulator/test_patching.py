"""Pointing discord.py at the emulator from a child process's environment."""

from __future__ import annotations

import discord
import pytest
from bubabot_local.discord_patch import ENV_API_BASE, ENV_GATEWAY, is_patched
from bubabot_local.emulator import patch_from_env, unpatch_discord_py

pytestmark = [pytest.mark.integration, pytest.mark.timeout(15)]


def test_patch_from_env_needs_both_variables() -> None:
    """A child process patches only when both variables are set; half-set is an error."""
    try:
        assert patch_from_env({}) is False
        assert not is_patched()
        with pytest.raises(ValueError, match="both"):
            patch_from_env({ENV_API_BASE: "http://127.0.0.1:1/api/v10"})
        env = {
            ENV_API_BASE: "http://127.0.0.1:1/api/v10/",
            ENV_GATEWAY: "ws://127.0.0.1:1/gateway/",
        }
        assert patch_from_env(env) is True
        assert discord.http.Route.BASE == "http://127.0.0.1:1/api/v10"
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:1/gateway/"
    finally:
        unpatch_discord_py()
