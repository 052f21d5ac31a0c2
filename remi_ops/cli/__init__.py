"""``remi-ops``: the runbook from a terminal, and the headless watchdog."""
