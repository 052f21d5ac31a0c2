"""The restart policy's arithmetic and words, kept apart from the state machine.

Which restarts spend the crash budget (a death or a hang; never a person, a post-fix
deploy or the end of maintenance), the backoff delay (bounded: the exponent is capped so
``backoff_factor ** level`` can never overflow, whatever the configuration or the number
of failures in a row), and how a death reads in history and alerts ("killed by SIGKILL",
"exited with code 1", "exit status unknown").

An adopted Remi is not our child, so the OS cannot tell us how it ended: its exit reads
"exit status unknown", is treated as a crash (restarted with the normal policy) and is
never matched against ``no_restart_exit_codes`` — only a known code can be.
"""

from __future__ import annotations

import math
import random

from remi_ops.config import RestartPolicy
from remi_ops.domain import ExitInfo, Trigger
from remi_ops.host.signals import signal_name

#: restarts the watchdog made because Remi died or hung: only these spend the budget
CRASH_TRIGGERS = frozenset({Trigger.CRASH, Trigger.HANG, Trigger.POLICY_RETRY,
                            Trigger.POLICY})
#: restarts a person (or a deploy, or maintenance ending) asked for: counted, never budgeted
ASKED_TRIGGERS = frozenset({Trigger.OPERATOR, Trigger.POST_FIX, Trigger.MAINTENANCE_END})
UNKNOWN_EXIT = "exit status unknown"


def spends_budget(trigger: Trigger) -> bool:
    """True for a restart the crash budget limits (a death, a hang, the slow retry)."""
    return trigger in CRASH_TRIGGERS


def describe_exit(info: ExitInfo) -> str:
    """How Remi ended, in the words a person uses; never "scheduled restart"."""
    why = f" ({info.reason})" if info.reason else ""  # Kubernetes: OOMKilled, Error
    if info.signal:
        return f"killed by {signal_name(info.signal)}{why}"
    if info.returncode is None:
        return UNKNOWN_EXIT + why
    return f"exited with code {info.returncode}{why}"


def held_text(why: str) -> str:
    """Why restarts are held, as status and alerts say it ("workdir does not exist: …")."""
    return f"{why}; restarts held until it exists again"


def level_cap(policy: RestartPolicy) -> int:
    """The smallest backoff level whose delay already reaches ``backoff_max_s``.

    Levels above it would only compute a bigger number to throw away (and, far enough,
    raise ``OverflowError``), so the exponent never exceeds it.
    """
    if policy.backoff_factor <= 1.0 or policy.backoff_initial_s >= policy.backoff_max_s:
        return 0
    ratio = math.log(policy.backoff_max_s) - math.log(policy.backoff_initial_s)
    return max(0, math.ceil(ratio / math.log(policy.backoff_factor)))


def backoff_base(policy: RestartPolicy, level: int) -> float:
    """``initial * factor ** level``, capped at ``backoff_max_s``. The exponent is capped,
    and the power is only computed when log space says it stays below the cap, so no
    factor and no level can overflow."""
    exponent = min(max(level, 0), level_cap(policy))
    log_delay = math.log(policy.backoff_initial_s) + exponent * math.log(policy.backoff_factor)
    if log_delay >= math.log(policy.backoff_max_s):
        return policy.backoff_max_s
    return min(policy.backoff_max_s, policy.backoff_initial_s * policy.backoff_factor ** exponent)


def jittered(policy: RestartPolicy, base: float, rng: random.Random) -> float:
    """``base`` spread by ±``jitter`` so two watchers do not retry in lock step; never
    above ``backoff_max_s`` or below zero."""
    delay = base * (1 + rng.uniform(-policy.jitter, policy.jitter))
    return min(policy.backoff_max_s, max(0.0, delay))
