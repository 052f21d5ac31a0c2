"""Record: SQLite (WAL, versioned schema), the embedded default store.

    database        ``Store``: the rows below over one connection
    connection      open, set a corrupt file aside, transactions
    schema          forward migrations
    records         frozen rows and their conversions
    history_rows    incidents, transitions, restarts, scans, audit, history
    error_group_rows  running totals, resolutions, regressions
    state_rows      log positions, key/value state, the alert engine's state
    outbox_rows     notifications waiting for, or delivered to, each sink
    event_journal_rows  notified events, written with their records, until the outbox takes them
    filesafety      state_dir 0700, store files 0600, files opened without following links
"""
