"""A small Kubernetes API server for tests: one workload, its pods, their logs.

It serves exactly what ``manager = "kubernetes"`` calls (read a Deployment/StatefulSet,
list pods by label selector, read a container's log with ``previous`` / ``sinceTime`` /
``timestamps``, patch the workload) and records every PATCH with its content type and
body, so a test asserts what was sent, byte for byte. A rollout restart rolls at once
(a new pod, a new container ID) unless ``stuck`` is set; ``paused`` is the workload's own.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_IDS = itertools.count(1)


@dataclass
class RecordedPatch:
    content_type: str
    body: dict[str, Any]
    query: dict[str, str]


@dataclass
class KubeEmulator:
    """State and handlers; ``await start()`` serves it on 127.0.0.1 (``url``)."""

    namespace: str = "bots"
    name: str = "remi"
    kind: str = "deployment"
    container: str = "remi"
    labels: dict[str, str] = field(default_factory=lambda: {"app": "remi"})
    #: the workload's pod template annotations (kept across a restart patch)
    annotations: dict[str, str] = field(default_factory=dict)
    paused: bool = False
    #: a rollout restart that never finishes (the new pod never becomes available)
    stuck: bool = False
    replicas: int = 1
    generation: int = 1
    pods: list[dict[str, Any]] = field(default_factory=list)
    #: log text per (pod, previous): lines "RFC3339Nano text"
    logs: dict[tuple[str, bool], list[str]] = field(default_factory=dict)
    patches: list[RecordedPatch] = field(default_factory=list)
    workload_meta_annotations: dict[str, str] = field(default_factory=dict)
    url: str = ""
    _runner: web.AppRunner | None = None

    # ---------------------------------------------------------------- what tests do

    def add_pod(self) -> str:
        n = next(_IDS)
        name = f"{self.name}-{n:04d}"
        self.pods.append({
            "metadata": {"name": name, "labels": dict(self.labels),
                         "creationTimestamp": f"2026-01-24T10:{n % 60:02d}:00Z"},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": self.container, "ready": True, "restartCount": 0,
                "containerID": f"containerd://{n:012d}",
                "state": {"running": {"startedAt": "2026-01-24T10:00:00Z"}},
                "lastState": {}}]}})
        return name

    def crash(self, pod: str, *, reason: str = "OOMKilled", exit_code: int = 137,
              restart_in_place: bool = True) -> None:
        """The container ends; kubelet restarts it in place (a new container ID)."""
        cs = self._status(pod)
        old = cs["containerID"]
        ended = {"exitCode": exit_code, "reason": reason, "containerID": old,
                 "finishedAt": "2026-01-24T10:05:00Z"}
        if restart_in_place:
            cs["lastState"] = {"terminated": ended}
            cs["restartCount"] += 1
            cs["containerID"] = f"containerd://{next(_IDS):012d}"
            cs["state"] = {"running": {"startedAt": "2026-01-24T10:05:01Z"}}
            self.logs[(pod, True)] = self.logs.pop((pod, False), [])
        else:
            cs["state"] = {"terminated": ended}
            cs["ready"] = False

    def log(self, pod: str, stamp: str, line: str, *, previous: bool = False) -> None:
        self.logs.setdefault((pod, previous), []).append(f"{stamp} {line}")

    # ---------------------------------------------------------------- serving

    async def start(self) -> str:
        app = web.Application()
        base = f"/apis/apps/v1/namespaces/{self.namespace}/{self.kind}s/{self.name}"
        for path in ("/version", "/version/"):  # kr8s asks once, on connecting
            app.router.add_get(path, self._version)
        app.router.add_get(base, self._get_workload)
        app.router.add_patch(base, self._patch_workload)
        app.router.add_get(f"/api/v1/namespaces/{self.namespace}/pods", self._list_pods)
        app.router.add_get(f"/api/v1/namespaces/{self.namespace}/pods/{{pod}}/log", self._log)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def workload(self) -> dict[str, Any]:
        ready = sum(1 for p in self.pods if p["status"]["containerStatuses"][0]["ready"])
        status: dict[str, Any] = {
            "observedGeneration": self.generation - (1 if self.stuck else 0),
            "replicas": len(self.pods), "updatedReplicas": 0 if self.stuck else len(self.pods),
            "availableReplicas": ready, "readyReplicas": ready}
        spec: dict[str, Any] = {
            "replicas": self.replicas, "selector": {"matchLabels": dict(self.labels)},
            "template": {"metadata": {"labels": dict(self.labels),
                                      "annotations": dict(self.annotations)}}}
        if self.paused:
            spec["paused"] = True
        return {"kind": self.kind.capitalize(), "apiVersion": "apps/v1",
                "metadata": {"name": self.name, "namespace": self.namespace,
                             "generation": self.generation,
                             "annotations": dict(self.workload_meta_annotations)},
                "spec": spec, "status": status}

    async def _version(self, request: web.Request) -> web.Response:
        del request
        return web.json_response({"major": "1", "minor": "33", "gitVersion": "v1.33.0"})

    async def _get_workload(self, request: web.Request) -> web.Response:
        del request
        return web.json_response(self.workload())

    async def _patch_workload(self, request: web.Request) -> web.Response:
        body = json.loads(await request.text())
        self.patches.append(RecordedPatch(request.headers.get("Content-Type", ""), body,
                                          dict(request.query)))
        meta = (body.get("metadata") or {}).get("annotations") or {}
        for key, value in meta.items():
            if value is None:
                self.workload_meta_annotations.pop(key, None)
            else:
                self.workload_meta_annotations[key] = value
        spec = body.get("spec") or {}
        template = ((spec.get("template") or {}).get("metadata") or {}).get("annotations")
        if template:
            self.annotations.update(template)
            self.generation += 1
            if not self.stuck:
                self.pods = []
                for _ in range(self.replicas):
                    self.add_pod()
        if "replicas" in spec:
            self.replicas = int(spec["replicas"])
            self.generation += 1
            self.pods = self.pods[:self.replicas]
            while len(self.pods) < self.replicas:
                self.add_pod()
        return web.json_response(self.workload())

    async def _list_pods(self, request: web.Request) -> web.Response:
        wanted = dict(kv.split("=", 1) for kv in request.query.get("labelSelector", "").split(",")
                      if "=" in kv)
        items = [copy.deepcopy(p) for p in self.pods
                 if all(p["metadata"]["labels"].get(k) == v for k, v in wanted.items())]
        return web.json_response({"kind": "PodList", "items": items})

    async def _log(self, request: web.Request) -> web.Response:
        pod = request.match_info["pod"]
        if request.query.get("container") != self.container:
            return web.json_response({"message": "container not found"}, status=400)
        previous = request.query.get("previous") == "true"
        lines = self.logs.get((pod, previous), [])
        since = request.query.get("sinceTime", "")
        if since:  # inclusive, at second precision, as the API server does
            lines = [ln for ln in lines if ln.split(" ", 1)[0][:19] >= since[:19]]
        if request.query.get("timestamps") != "true":
            lines = [ln.split(" ", 1)[1] for ln in lines]
        return web.Response(text="".join(f"{ln}\n" for ln in lines))

    def _status(self, pod: str) -> dict[str, Any]:
        for p in self.pods:
            if p["metadata"]["name"] == pod:
                status: dict[str, Any] = p["status"]["containerStatuses"][0]
                return status
        raise KeyError(pod)
