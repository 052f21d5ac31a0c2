"""Supervision: what the watcher decides about one target, pure (no process is touched).

    supervisor  ``Supervisor``: states, the one place state changes, facts in, actions out
    states      the ``State`` enum and the transition table every change is checked against
    policy      the restart policy's arithmetic and words: bounded backoff, what spends the
                crash budget, how a death reads ("killed by SIGKILL", "exit status unknown")
"""
