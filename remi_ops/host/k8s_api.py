"""The four Kubernetes API calls a ``manager = "kubernetes"`` target needs, blocking.

kr8s (the optional extra ``bubabot[kubernetes]``) finds the cluster the way kubectl does:
the kubeconfig and its ``context``, or the pod's service account when Bubabot runs in the
cluster; it refreshes expired credentials. We use its ``call_api`` for exactly the requests
we make (read the workload, list its pods, read a container's log, patch the workload),
so the body and the content type of the rollout-restart patch are ours to choose (kubectl's
``application/strategic-merge-patch+json``, which kr8s's own ``patch()`` cannot send).

kr8s is asynchronous; the manager's contract is blocking (it runs in the watcher's
threads). A :class:`KubeApi` owns one event loop in a daemon thread and hands each call to
it, so kr8s's HTTP session lives on one loop for its whole life.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from remi_ops.exceptions import ConfigError

_T = TypeVar("_T")
#: the longest one API call may take (a slow API server never blocks a check for long)
CALL_TIMEOUT_S = 30.0
#: what kubectl rollout restart sends (types.StrategicMergePatchType)
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
INSTALL_HINT = "manager = \"kubernetes\" needs `pip install 'bubabot[kubernetes]'`"


class KubeApiError(Exception):
    """A call the API server refused or that did not get through, in one line."""


def kr8s_missing() -> bool:
    """True when the ``kubernetes`` extra is not installed (checked without importing)."""
    import importlib.util  # noqa: PLC0415 - only asked when a target uses kubernetes

    return importlib.util.find_spec("kr8s") is None


class KubeApi:
    """A blocking handle on one cluster (``url`` for a test's API emulator)."""

    def __init__(self, *, context: str = "", url: str = "") -> None:
        if kr8s_missing():
            raise ConfigError([INSTALL_HINT])
        self._context, self._url = context, url
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever,
                                        name="kubernetes-api", daemon=True)
        self._thread.start()
        self._api: Any = None

    def close(self) -> None:
        """Close the HTTP session on its own loop, then stop the loop (once)."""
        if self._loop.is_closed():
            return
        if self._api is not None:
            session = getattr(self._api, "_session", None)  # kr8s has no public close
            if session is not None:
                asyncio.run_coroutine_threadsafe(session.aclose(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    # ---------------------------------------------------------------- the calls

    def get_json(self, version: str, namespace: str, url: str,
                 params: Mapping[str, str] | None = None) -> dict[str, Any]:
        text = self._run(self._request("GET", version, namespace, url, params=params))
        doc = json.loads(text)
        if not isinstance(doc, dict):
            raise KubeApiError(f"GET {url}: not a JSON object")
        return doc

    def get_text(self, version: str, namespace: str, url: str,
                 params: Mapping[str, str] | None = None) -> str:
        return self._run(self._request("GET", version, namespace, url, params=params))

    def patch(self, version: str, namespace: str, url: str, body: Mapping[str, Any], *,
              content_type: str = STRATEGIC_MERGE_PATCH,
              params: Mapping[str, str] | None = None) -> dict[str, Any]:
        text = self._run(self._request("PATCH", version, namespace, url, params=params,
                                       content=json.dumps(body, separators=(",", ":")),
                                       headers={"Content-Type": content_type}))
        doc = json.loads(text)
        return doc if isinstance(doc, dict) else {}

    # ---------------------------------------------------------------- inside

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        if self._loop.is_closed() or not self._thread.is_alive():  # a call after close
            coro.close()
            raise KubeApiError("the Kubernetes API client is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(CALL_TIMEOUT_S)
        except TimeoutError as exc:
            if not self._loop.is_closed():  # closed meanwhile: nothing left to cancel
                future.cancel()
            raise KubeApiError(f"the API server did not answer within {CALL_TIMEOUT_S:.0f}s") \
                from exc

    async def _request(self, method: str, version: str, namespace: str, url: str,
                       **kwargs: Any) -> str:
        import httpx  # noqa: PLC0415 - part of the kubernetes extra (kr8s's transport)
        import kr8s.asyncio  # noqa: PLC0415 - the optional extra, imported on first use

        try:
            if self._api is None:
                self._api = await kr8s.asyncio.api(url=self._url or None,
                                                   context=self._context or None)
            base = "/api" if version == "v1" else "/apis"
            async with self._api.call_api(method, version=version, base=base,
                                          namespace=namespace, url=url, **kwargs) as resp:
                return str(resp.text)
        except (kr8s.ServerError, httpx.HTTPError, OSError) as exc:
            raise KubeApiError(f"{method} {url}: {_one_line(exc)}") from exc


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
