"""``remi-ops``: the runbook from a terminal, and the headless watchdog.

    main         the entry point: parse, load the configuration, run the subcommand
    parser       the grammar: every subcommand and its options, none of their code
    subcommands  where each subcommand runs, imported only when it runs
    watchcmd     ``watch``: plug-in sinks found, ``ssl`` left out if unused, then the run
    watchrun     the watcher run until SIGINT/SIGTERM
    tls_features the configured features that may use TLS (else a watch has no ``ssl``)
    commands     status, health, start, stop, restart, maintenance, scan-test
    admin        errors, history, alerts, silence, ack, resolve, doctor
    verbs        how those run a runbook verb: in the running watcher, or themselves
    service      ``service``: Bubabot as a launchd or systemd job
    configcmd    ``config check`` and ``config init``
    testalert    ``test-alert``
    common       exit codes, errors, output, who is asking, the version
    envfile      ``--env-file``; logsetup: the logging options
"""
