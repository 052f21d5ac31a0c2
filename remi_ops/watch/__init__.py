"""The imperative shell: one check for one target as visible steps, and the loops.

    target      ``TargetWatch``: observe → assess → decide → act → record → notify
    intake      what Remi appended to its logs (every one of them), as records
    occurrences those records' error groups, stored with their log positions as read
    observe     one look at a target
    unwatched   logs Remi writes that no target lists (``remi-ops doctor``)
    decide      a report in, the supervisor's actions out
    act         the actions carried out through the process manager (never raises)
    fallback    an act-path failure told in ``.bot_alert`` without SQLite, once
    conditions  a report as alert conditions
    record      the one place a watch writes its history (and the events announcing it)
    watcher     ``Watcher``: store, alerts and one watch per target, wired once
    loops       what is due and how it runs; the watcher's own loops; the old exit waiter
    schedule    one scheduler for every target's checks, probes, due actions and deaths
    target_timers one target's wake-ups as a small record (no coroutine asleep per target)
    timers      every timed wake-up in one heap under one loop timer
    batches     checks and probes due together handed to the check threads together
    stopwake    a sleeping loop woken by its event or the watcher's stop, no task per wait
    executors   the watcher's own pools (checks in per-target lanes, deaths, scans)
    fileevents  file changes (logs, beacon, spool) as the wake-ups of the probes and requests
    alertcommit the alert commit when an input arrives or an engine timer is due
    spool       ``remi-ops`` asks a running watcher through a spool directory
    serve       the watcher's side of the spool: refusals, orphans, answers
    audit       audit first: a "requested" row before a person's action, then its result
    longlived   what is alive after start-up kept out of the collector's full passes
"""
