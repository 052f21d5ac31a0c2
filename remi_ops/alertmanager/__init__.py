"""Bubabot as Alertmanager's Discord front, the Discord-free half.

``payload`` is the webhook's JSON (version 4) as msgspec structs; ``groups`` merges each
notification into the group's last known state (status per fingerprint) and lays it out
within Discord's limits as plain data; ``rows`` keeps groups, their outbox rows and the
refused payloads in the store; ``receiver`` is the ``POST /alertmanager`` endpoint
(aiohttp, bearer token); ``silences`` talks to Alertmanager's v2 API. The Discord message
and its buttons live in ``bubabot.alertmanager_view``.
"""
