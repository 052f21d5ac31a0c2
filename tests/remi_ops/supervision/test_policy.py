"""The policy's arithmetic and words: bounded backoff for any configuration, deaths named."""

from __future__ import annotations

import random
import signal
from datetime import UTC, datetime

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from remi_ops.config import RestartPolicy
from remi_ops.domain import ExitInfo, Trigger
from remi_ops.supervision.policy import backoff_base, describe_exit, level_cap, spends_budget
from remi_ops.supervision.supervisor import Supervisor

AT = datetime(2026, 1, 24, tzinfo=UTC)



def unchecked(**fields: float) -> RestartPolicy:
    """A policy with ``fields`` set past its ``__post_init__`` (as pydantic's model_construct
    did): the config's bounds already refuse most of these; the arithmetic must hold even for
    a policy built without them (defence in depth, not the only line)."""
    policy = RestartPolicy()
    for name, value in fields.items():
        msgspec.structs.force_setattr(policy, name, value)
    return policy


policies = st.builds(
    lambda initial, extra, factor, jitter: unchecked(
        backoff_initial_s=initial, backoff_max_s=initial + extra, backoff_factor=factor,
        jitter=jitter),
    st.floats(min_value=1e-6, max_value=1e6), st.floats(min_value=0, max_value=1e300),
    st.floats(min_value=1.0, max_value=1e308), st.floats(min_value=0, max_value=1))


@given(policy=policies, level=st.integers(min_value=0, max_value=10**9))
def test_the_backoff_never_overflows_and_stays_within_its_bounds(policy: RestartPolicy,
                                                                  level: int) -> None:
    """Any factor, any number of failures in a row: a finite delay in [0, max]."""
    base = backoff_base(policy, level)
    assert 0 < base <= policy.backoff_max_s
    sup = Supervisor("remi", policy, rng=random.Random(1))
    sup.backoff_level = level
    delay = sup.next_delay(stable=False)
    assert 0 <= delay <= policy.backoff_max_s
    assert sup.backoff_level <= level_cap(policy) + 1  # persisted: stays small


def test_the_default_policy_survives_the_1025th_failure_in_a_row() -> None:
    """The issue's case: 2.0 ** 1025 overflowed; now it is simply the cap."""
    policy = RestartPolicy(jitter=0)
    assert backoff_base(policy, 1025) == policy.backoff_max_s
    assert backoff_base(policy, 0) == policy.backoff_initial_s
    assert backoff_base(policy, 3) == 8.0


def test_deaths_read_the_way_a_person_says_them() -> None:
    assert describe_exit(ExitInfo(1, -9, signal.SIGKILL, AT)) == "killed by SIGKILL"
    assert describe_exit(ExitInfo(1, 3, None, AT)) == "exited with code 3"
    assert describe_exit(ExitInfo(1, None, None, AT)) == "exit status unknown"


def test_only_deaths_and_hangs_spend_the_crash_budget() -> None:
    assert {t for t in Trigger if spends_budget(t)} == {
        Trigger.CRASH, Trigger.HANG, Trigger.POLICY_RETRY, Trigger.POLICY}
