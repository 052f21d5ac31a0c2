"""Observing the emulator: messages, interactions, recorded requests, syncs, connections.

What tests assert on and the local console shows; nothing here changes the world.
"""

from __future__ import annotations

from bubabot_local.emulator_messages import Interaction, Message
from bubabot_local.emulator_server import EmulatorServer
from bubabot_local.emulator_state import EmulatorError
from bubabot_local.emulator_world import JSON, BotAccount, RecordedRequest


class Observing(EmulatorServer):
    """Read-only views of the emulator's state."""

    def messages(self, channel_id: int, *, include_ephemeral: bool = False) -> list[Message]:
        """Live messages of a channel, oldest first, edits applied."""
        return self._state.channel_history(channel_id, include_ephemeral=include_ephemeral)

    def message(self, message_id: int) -> Message:
        """One live message by id."""
        message = self._state.messages.get(message_id)
        if message is None or message.deleted:
            raise EmulatorError(f"no message {message_id}")
        return message

    @property
    def interactions(self) -> list[Interaction]:
        """Every interaction dispatched, in order."""
        return list(self._state.interactions.values())

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST request received (Authorization header removed)."""
        return list(self._state.requests)

    @property
    def unhandled_requests(self) -> list[RecordedRequest]:
        """Requests to routes the emulator does not implement (answered 404)."""
        return list(self._state.unhandled)

    def find_requests(
        self, method: str | None = None, path_contains: str = ""
    ) -> list[RecordedRequest]:
        """Recorded requests filtered by method and a path fragment."""
        return [
            r
            for r in self._state.requests
            if (method is None or r.method == method) and path_contains in r.path
        ]

    def synced_commands(self, application_id: int, guild_id: int | None = None) -> list[JSON]:
        """The commands last synced for an application (guild or global)."""
        return list(self._state.commands.get((application_id, guild_id), []))

    def sync_count(self, application_id: int | None = None, guild_id: int | None = None) -> int:
        """How many bulk-overwrite PUTs happened (all scopes when `application_id` is None)."""
        if application_id is None:
            return sum(self._state.sync_counts.values())
        return self._state.sync_counts.get((application_id, guild_id), 0)

    def bot(self, *, bot_token: str | None = None, application_id: int | None = None) -> BotAccount:
        """A bot account (identify/resume/heartbeat counters, presence)."""
        return self._driver.pick_bot(bot_token, application_id)

    def is_connected(
        self, *, bot_token: str | None = None, application_id: int | None = None
    ) -> bool:
        """Whether the bot has a live gateway socket with an identified session."""
        bot = self._driver.pick_bot(bot_token, application_id)
        session = self._gateway.current.get(bot.token)
        return session is not None and session.connected

    @property
    def refused_gateway_connects(self) -> int:
        """Gateway connection attempts refused during outages."""
        return self._state.refused_gateway_connects
