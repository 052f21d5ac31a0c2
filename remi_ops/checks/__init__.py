"""Assess: an observation becomes a ``HealthReport``; and the checks around it.

    health      Observation → HealthReport (pure): process, event loop, logs, scan test
    healthfile  ``.bot_health`` for other scripts (schema, atomic, the watcher's heartbeat)
    evidence    what to capture before a hang restart (stuck stack, dumps, last lines)
    scantest    the out-of-band ``/scan`` smoke test
    codewatch   git HEAD and watched files: "a fix landed"
"""
