"""A local Discord that an unmodified discord.py 2.7.1 client logs in to.

Used by the end-to-end tests, by local mode (a person types slash commands in a terminal and
watches #quick-tasks) and by the simulated Remi in a child process. It binds 127.0.0.1 on a
free port, speaks enough REST and gateway for login, command sync, slash commands, buttons,
interaction responses, follow-ups, messages with embeds/files, threads, and lets tests
inject rate limits, server errors, outages and gateway reconnects.

Typical use::

    emulator = DiscordEmulator()
    await emulator.start()
    patch_discord_py(emulator)
    emulator.add_guild(GUILD)
    emulator.add_channel(GUILD, QUICK_TASKS, "quick-tasks")
    emulator.add_bot(TOKEN, BOT_ID, "Bubabot")
    ...
    interaction = await emulator.invoke_slash(guild_id=GUILD, channel_id=QUICK_TASKS,
                                              user_id=PERSON, name="health")
    await emulator.wait_for_response(interaction)
"""

from __future__ import annotations

from bubabot_local.discord_patch import (
    ENV_API_BASE,
    ENV_GATEWAY,
    emulator_env,
    patch_discord_py,
    patch_from_env,
    unpatch_discord_py,
)
from bubabot_local.emulator_actions import PeopleActions
from bubabot_local.emulator_faults import FaultInjection
from bubabot_local.emulator_messages import Attachment, Interaction, Message
from bubabot_local.emulator_setup import WorldSetup
from bubabot_local.emulator_state import EmulatorError, EmulatorTimeout
from bubabot_local.emulator_world import (
    BotAccount,
    Channel,
    Guild,
    Member,
    RecordedRequest,
    Role,
)

__all__ = [
    "ENV_API_BASE",
    "ENV_GATEWAY",
    "Attachment",
    "BotAccount",
    "Channel",
    "DiscordEmulator",
    "EmulatorError",
    "EmulatorTimeout",
    "Guild",
    "Interaction",
    "Member",
    "Message",
    "RecordedRequest",
    "Role",
    "emulator_env",
    "patch_discord_py",
    "patch_from_env",
    "unpatch_discord_py",
]


class DiscordEmulator(WorldSetup, PeopleActions, FaultInjection):
    """The emulated Discord: world setup, driving, observing and fault injection.

    Each part is its own module: ``emulator_server`` (the app and its lifecycle),
    ``emulator_setup``, ``emulator_actions`` (with ``emulator_observe``) and
    ``emulator_faults``.
    """
