"""Assess: an observation becomes a ``HealthReport``; and the checks around it.

    health      Observation → HealthReport (pure): process, event loop, logs, scan test
    loop        is the event loop running? a block is carried until the loop is seen alive
    standing    what the store holds against a target: recent error groups, firing alerts
    stacks      a stuck stack read: the blocking (innermost in-app) frame, Remi's frames first
    healthfile  ``.bot_health`` for other scripts (schema, atomic, the watcher's heartbeat)
    evidence    what to capture before a hang restart (stuck stack, dumps, last lines)
    scantest    the out-of-band ``/scan`` smoke test
    codewatch   git HEAD and watched files: "a fix landed"
"""
