"""Notify: the Alertmanager-style lifecycle, durable delivery, and the plain-text renderer.

    model         conditions in, notifications out (frozen, JSON-able)
    rules         per-kind rules and one alert's lifecycle (pending → firing → resolved)
    engine        ``AlertEngine`` (pure): grouping, inhibition, silences, acknowledgements
    engine_state  what the engine remembers and how it is saved
    silences      silences that always expire
    dispatch      a group's flush: post, edit, repeat
    hub           the bridge from watch threads to the engine, the outbox and incidents
    outbox        durable delivery with per-sink retry, in threads of its own
    local_sinks   the file and console sinks
    text          the one plain-text renderer (console, ``.bot_alert``, the CLI)
"""
