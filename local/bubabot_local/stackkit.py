"""Helpers for full-stack tests (the real app, the emulator, the simulator): waiting for
in-loop state, and reading what a channel shows.

``until`` polls *on* the event loop, unlike ``remi_ops.testing.wait_until_async`` (which
runs a blocking probe in a worker thread): its probes read the emulator's and the app's
in-loop state, which belongs to the loop's thread.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import TypeVar

from bubabot_local.emulator import DiscordEmulator, Message

T = TypeVar("T")


async def until(probe: Callable[[], T | None], timeout: float = 30.0,  # noqa: ASYNC109 - mirrors wait_until
                what: str = "") -> T:
    """Poll ``probe`` every 50 ms until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")


def message_text(message: Message) -> str:
    """Everything a person can read in one message: content, embeds, attached text."""
    return "\n".join([message.content, json.dumps(message.embeds, ensure_ascii=False),
                      *(a.text for a in message.attachments)])


def channel_text(emulator: DiscordEmulator, channel: int) -> str:
    """Everything a person can read in ``channel``, oldest first."""
    return "\n".join(message_text(m) for m in emulator.messages(channel))
