"""The command-sync hash is replaced through a fresh temp file: a planted link is never followed."""

from __future__ import annotations

import pytest
from bubabot_local.emulator import DiscordEmulator
from bubabot_local.harness import Harness

pytestmark = [pytest.mark.integration, pytest.mark.timeout(10)]


async def test_a_link_at_the_old_fixed_temp_name_is_left_alone(
        harness: Harness, emulator: DiscordEmulator) -> None:
    """``<sync state>.tmp`` used to be written blindly: a link there overwrote its target."""
    victim = harness.state_dir / "victim.txt"
    harness.state_dir.mkdir(parents=True, exist_ok=True)
    victim.write_text("precious\n", encoding="utf-8")
    planted = harness.sync_state_path.with_name(harness.sync_state_path.name + ".tmp")
    planted.symlink_to(victim)
    bot = await harness.start_bot()
    assert bot.synced_on_start is True and emulator.sync_count() == 1
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert len(harness.sync_state_path.read_text(encoding="utf-8").strip()) == 64
    assert planted.is_symlink()
