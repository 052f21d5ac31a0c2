"""When a target's death and due actions need a look: only when what they wait on changed.

A target's death is awaited for its process, its due actions on the next due time (a
backoff retry, the end of a start or of maintenance, the recheck and the scan test after
a restart). Every check acts (often with nothing to do), and waking both loops for each
— a hand-off to the event loop and two loop turns that find nothing new — was a quarter
of an idle check's cost. So the watch compares what the loops wait on with what it last
told them, and wakes them only when that differs or something was done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from remi_ops.watch.target import TargetWatch


def what_loops_wait_on(watch: TargetWatch) -> tuple[object, ...]:
    """Everything a target's death and due actions (``target_timers.TargetTimers.look``,
    ``loops.exit_waiter``) decide their sleep by."""
    sup = watch.supervisor
    return (sup.process, sup.state, sup.next_attempt_mono, sup.started_mono,
            sup.maintenance_until, watch.recheck_due_mono, watch.scan_due_mono)


def wake_if_changed(watch: TargetWatch, *, acted: bool) -> None:
    """Call ``watch.on_change`` when something was done or what the loops wait on moved."""
    heard = what_loops_wait_on(watch)
    if acted or heard != watch.loops_heard:
        watch.loops_heard = heard
        watch.on_change()
