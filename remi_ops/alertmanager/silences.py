"""Alertmanager's silences API (v2): create a silence for a group, expire it.

``POST {api}/api/v2/silences`` with equality matchers, ``createdBy`` and a comment answers
``{"silenceID": …}``; ``DELETE {api}/api/v2/silence/{id}`` expires it. Every failure
(unreachable, a refusal, a bad answer) is ``SilenceApiError`` with one line an operator
can act on, never a traceback in Discord.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

import aiohttp

from remi_ops.exceptions import RemiOpsError

TIMEOUT = aiohttp.ClientTimeout(total=10.0)
SILENCE_ID = re.compile(r"[0-9A-Za-z-]{1,64}")


class SilenceApiError(RemiOpsError):
    """Alertmanager did not do what was asked; the message says why in one line."""


def matchers_of(labels: Mapping[str, str]) -> list[dict[str, object]]:
    """Equality matchers for ``labels`` (in Alertmanager's v2 shape)."""
    return [{"name": k, "value": v, "isRegex": False, "isEqual": True}
            for k, v in sorted(labels.items())]


class SilencesClient:
    """Talks to one Alertmanager; ``api_url`` is its base (``http://host:9093``)."""

    def __init__(self, api_url: str) -> None:
        if not api_url.startswith(("http://", "https://")):
            raise SilenceApiError(f"no usable Alertmanager URL ({api_url or 'none'!r}); "
                                  "set [alertmanager] api_url or Alertmanager's "
                                  "--web.external-url")
        self.api_url = api_url.rstrip("/")

    async def create(self, labels: Mapping[str, str], *, starts: datetime, duration: timedelta,
                     created_by: str, comment: str) -> str:
        """A new silence matching ``labels`` exactly; its id."""
        if not labels:
            raise SilenceApiError("the group has no common labels to silence by")
        body = {"matchers": matchers_of(labels), "startsAt": starts.isoformat(),
                "endsAt": (starts + duration).isoformat(), "createdBy": created_by,
                "comment": comment}
        data = await self._call("POST", "/api/v2/silences", body)
        silence_id = data.get("silenceID") if isinstance(data, dict) else None
        if not isinstance(silence_id, str) or not SILENCE_ID.fullmatch(silence_id):
            raise SilenceApiError(f"Alertmanager answered without a silence id: {data!r:.200}")
        return silence_id

    async def expire(self, silence_id: str) -> None:
        if not SILENCE_ID.fullmatch(silence_id):
            raise SilenceApiError(f"{silence_id!r:.80} is not a silence id")
        await self._call("DELETE", f"/api/v2/silence/{silence_id}", None)

    async def _call(self, method: str, path: str, body: object) -> object:
        url = self.api_url + path
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as session, \
                    session.request(method, url, json=body) as response:
                text = await response.text()
                if response.status >= 300:
                    raise SilenceApiError(f"Alertmanager refused {method} {path} "
                                          f"({response.status}): {text.strip()[:200]}")
                if not text.strip():
                    return None
                try:
                    return await response.json(content_type=None)
                except ValueError:
                    return text
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise SilenceApiError(f"cannot reach Alertmanager at {self.api_url}: "
                                  f"{exc!r:.200}") from None
