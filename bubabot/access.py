"""Who may do what. Enforced by Bubabot itself: Discord's ``default_member_permissions``
is only a hint to its UI, members can still invoke the command.

Tiers (anchors §3): read-only (health, errors, history) for viewers; safe mutations (scan
test, ack, silence, resolve) and destructive ones (restart, maintenance) for operators, the latter
behind a confirmation. Pure: decisions from ids, no Discord objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from remi_ops.config import DiscordSettings


class Tier(StrEnum):
    READ = "read"  # /remi-health, /remi-errors, /remi-history
    OPERATE = "operate"  # /remi-scan-test, /remi-silence, /remi-resolve, acknowledge
    DESTRUCTIVE = "destructive"  # /remi-restart, /remi-maintenance (confirmation first)


@dataclass(frozen=True, slots=True)
class Actor:
    """The person behind an interaction."""

    user_id: int
    name: str
    role_ids: frozenset[int] = frozenset()

    @property
    def label(self) -> str:
        """How an actor appears in the audit log and history."""
        return f"discord:{self.user_id} ({self.name})"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""


ALLOW = Decision(True)


@dataclass(frozen=True)
class AccessPolicy:
    """Role- and channel-based rules built from ``[discord]``."""

    guild_id: int
    operator_role_ids: frozenset[int]
    viewer_role_ids: frozenset[int]
    allowed_channel_ids: frozenset[int]

    @classmethod
    def from_settings(cls, s: DiscordSettings) -> AccessPolicy:
        return cls(s.guild_id, frozenset(s.operator_role_ids), frozenset(s.viewer_role_ids),
                   frozenset(s.allowed_channel_ids))

    def decide(self, actor: Actor, tier: Tier, *, guild_id: int | None,
               channel_id: int | None) -> Decision:
        """May ``actor`` use a command of ``tier`` here? A refusal says why."""
        if guild_id is None or (self.guild_id and guild_id != self.guild_id):
            return Decision(False, "Bubabot's commands only work in the ops server, "
                                   "not in direct messages or other servers.")
        if self.allowed_channel_ids and channel_id not in self.allowed_channel_ids:
            channels = ", ".join(f"<#{c}>" for c in sorted(self.allowed_channel_ids))
            return Decision(False, f"Bubabot's commands only work in {channels}.")
        if tier is Tier.READ:
            roles = self.viewer_role_ids | self.operator_role_ids
            if not self.viewer_role_ids or actor.role_ids & roles:
                return ALLOW
            return Decision(False, "You need one of the ops roles "
                                   f"({_roles(self.viewer_role_ids)}) to see Remi's health.")
        if actor.role_ids & self.operator_role_ids:
            return ALLOW
        if not self.operator_role_ids:
            return Decision(False, "No operator role is configured "
                                   "([discord] operator_role_ids), so nobody may do this yet.")
        return Decision(False, f"Only operators ({_roles(self.operator_role_ids)}) may do this.")


def _roles(ids: Iterable[int]) -> str:
    return ", ".join(f"<@&{r}>" for r in sorted(ids))
