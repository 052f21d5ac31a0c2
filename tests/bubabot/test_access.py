"""Who may do what: viewers read, operators act, everything else is refused with a reason."""

from __future__ import annotations

import pytest

from bubabot.access import AccessPolicy, Actor, Tier

GUILD, OPS_CHANNEL, OTHER_CHANNEL = 1, 10, 11
OPERATOR, VIEWER = 100, 200
POLICY = AccessPolicy(GUILD, frozenset({OPERATOR}), frozenset({VIEWER}), frozenset({OPS_CHANNEL}))


def actor(*roles: int) -> Actor:
    return Actor(42, "ana", frozenset(roles))


@pytest.mark.parametrize(("who", "tier", "channel", "allowed", "why"), [
    (actor(VIEWER), Tier.READ, OPS_CHANNEL, True, ""),
    (actor(OPERATOR), Tier.READ, OPS_CHANNEL, True, ""),
    (actor(), Tier.READ, OPS_CHANNEL, False, "ops roles"),
    (actor(VIEWER), Tier.OPERATE, OPS_CHANNEL, False, "Only operators"),
    (actor(VIEWER), Tier.DESTRUCTIVE, OPS_CHANNEL, False, "Only operators"),
    (actor(OPERATOR), Tier.DESTRUCTIVE, OPS_CHANNEL, True, ""),
    (actor(OPERATOR), Tier.DESTRUCTIVE, OTHER_CHANNEL, False, "only work in <#10>"),
])
def test_policy_table(who: Actor, tier: Tier, channel: int, allowed: bool, why: str) -> None:
    """Each role, tier and channel gets the expected answer and a clear reason."""
    decision = POLICY.decide(who, tier, guild_id=GUILD, channel_id=channel)
    assert decision.allowed is allowed
    assert why in decision.reason


def test_empty_viewer_roles_means_every_member_may_read() -> None:
    """With no viewer roles configured, any member of the guild may use read-only commands."""
    open_policy = AccessPolicy(GUILD, frozenset({OPERATOR}), frozenset(), frozenset())
    assert open_policy.decide(actor(), Tier.READ, guild_id=GUILD, channel_id=5).allowed
    assert not open_policy.decide(actor(), Tier.OPERATE, guild_id=GUILD, channel_id=5).allowed


def test_direct_messages_and_other_guilds_are_refused() -> None:
    """Commands never work outside the configured guild."""
    assert not POLICY.decide(actor(OPERATOR), Tier.READ, guild_id=None, channel_id=None).allowed
    assert not POLICY.decide(actor(OPERATOR), Tier.READ, guild_id=999,
                             channel_id=OPS_CHANNEL).allowed


def test_no_operator_roles_configured_refuses_mutations_clearly() -> None:
    """An unconfigured operator list refuses mutations and says what to configure."""
    policy = AccessPolicy(GUILD, frozenset(), frozenset(), frozenset())
    decision = policy.decide(actor(OPERATOR), Tier.OPERATE, guild_id=GUILD, channel_id=1)
    assert not decision.allowed and "operator_role_ids" in decision.reason


def test_actor_label_names_the_person() -> None:
    """The audit label carries the Discord id and name."""
    assert actor().label == "discord:42 (ana)"
