"""Observe what Remi logged: rotation-safe tailing, record parsing, classification,
tracebacks, error groups, and redaction where the text is made.

    tail          incremental reads with persisted positions (rotation, truncation, partial lines)
    position      where a tailer stopped (``LogPosition``) and what one read found (``TailChunk``)
    rotate        size rotation of Remi's logs by copytruncate, right after a read
    lines         complete, bounded lines from a byte stream (the partial last line held)
    holdback      where the record still being written starts, and when it is finished
    headers       the log layouts discord.py and ``logging`` write, and decoding
    bodies        the lines after a header: tracebacks, classification
    parse         ``LogParser``: bytes → ``LogRecord``s
    slices        a big read parsed in slices, the GIL handed over between them
    parse_worker  big reads parsed in one worker process, off the watcher's GIL
    scan          the bulk path for large appends: a lazy search for records of interest
    body_shapes   traceback bodies parsed once per shape (exception messages blanked out)
    fullscan      a whole log file into error groups, in worker processes for a big one
    group_counts  occurrences per group for a full scan (no tally per batch)
    repeats       a full scan's records that repeat but for their stamp, decided once
    kinds         log kinds and the policy each has
    tracebacks    chained tracebacks, frames, the loop thread's stack
    placeholders  values in an error message replaced by <kind> (for grouping)
    error_groups  Sentry-style fingerprints and per-check aggregation
    redact        known secrets first, then patterns; before truncating; makes ``Redacted``
    redact_rules  the pattern set, as linear-time rules
    known_secrets which exact values are secrets (environment, target env, dotenv files)
    redacted      ``Redacted``: text that went through the redactor (imports nothing of ours)
"""
