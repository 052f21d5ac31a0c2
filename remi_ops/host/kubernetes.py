"""``manager = "kubernetes"``: Remi as a container of a Deployment (or StatefulSet).

Kubernetes owns the process; we read the workload and its pods (by the workload's own
``spec.selector.matchLabels``), copy the container's log beside the watch (see
:mod:`~remi_ops.host.k8s_logs`), and restart the way ``kubectl rollout restart`` does: a
patch of the pod template's ``restartedAt`` annotation, then a wait for the rollout.
A pod is never deleted to restart Remi: the controller replaces it on its own terms
(strategy, probes, disruption budgets), and a delete does not wait for the new one.

``stop`` scales the workload to 0 and remembers the replica count in an annotation on it
(``remi-ops/replicas-before-stop``); ``start`` gives that count back (1 when none). There is
no pid on this machine: see :mod:`~remi_ops.host.k8s_status` for the identity used.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from remi_ops.clock import Clock, SystemClock
from remi_ops.config import TargetSettings
from remi_ops.domain import ExitInfo, ProcessIdentity, ProcessSnapshot
from remi_ops.exceptions import ProcessError
from remi_ops.host import commands
from remi_ops.host.commands import CommandResult
from remi_ops.host.k8s_api import KubeApi, KubeApiError
from remi_ops.host.k8s_logs import FIRST_READ_LINES, PodLogMirror
from remi_ops.host.k8s_status import (
    REPLICAS_BEFORE_STOP,
    Container,
    containers_of,
    exit_of,
    identity_of,
    pod_of,
    restart_patch,
    rollout_state,
    selector_of,
    snapshot_of,
)
from remi_ops.host.stopping import StopResult

log = logging.getLogger(__name__)
#: how often a wait (rollout, exit, new container) asks the API server again
POLL_S = 1.0
_T = TypeVar("_T")


class KubernetesManager:
    """The :class:`~remi_ops.host.managers.ProcessManager` of a Kubernetes workload."""

    def __init__(self, target: TargetSettings, *, clock: Clock | None = None,
                 api: KubeApi | None = None) -> None:
        self.target = target
        self.clock = clock or SystemClock()
        self.api = api or KubeApi(context=target.context)
        self.kind = "deployment" if target.deployment else "statefulset"
        self.workload_name = target.deployment or target.statefulset
        self.mirror = PodLogMirror(target.stderr_log, self._fetch_log)

    def close(self) -> None:
        """Close the API client (its HTTP connection and its loop thread)."""
        self.api.close()

    # ---------------------------------------------------------------- reading

    def workload(self) -> dict[str, Any]:
        return self._call("read", lambda: self.api.get_json(
            "apps/v1", self.target.namespace, f"{self.kind}s/{self.workload_name}"))

    def containers(self) -> list[Container]:
        """The target container of every pod the workload selects, oldest pod first."""
        selector = selector_of(self.workload())
        if not selector:
            raise ProcessError(self.target.name, "read",
                               f"{self.kind} {self.workload_name} has no matchLabels selector")
        pods = self._call("list pods", lambda: self.api.get_json(
            "v1", self.target.namespace, "pods", params={"labelSelector": selector}))
        return containers_of(pods, self.target.container)

    def find(self, *, shared: bool = False) -> list[ProcessIdentity]:
        """Running containers of pods that are not terminating; 2+ is a duplicate (two
        copies of one Discord bot answer every interaction twice). One API call per
        target: there is no host process table to share (``shared`` is ignored)."""
        del shared
        return [identity_of(self.target.namespace, c) for c in self.containers()
                if c.running and not c.terminating]

    def snapshot(self, ident: ProcessIdentity, *,
                 shared: bool = False) -> ProcessSnapshot | None:
        """A look at the container, and its new log lines copied for the intake."""
        del shared  # no host process table here
        current = self._run_of(ident)
        if current is None or not current.running:
            return None
        self._copy_logs(current.pod, ident.spawn_id)
        return snapshot_of(ident, current, self.clock.now().timestamp())

    def wait_exit(self, ident: ProcessIdentity, timeout: float | None,
                  cancel: threading.Event | None = None) -> ExitInfo | None:
        """Poll until the container run ``ident`` ended; its last lines are copied first
        (``previous=true`` when kubelet already restarted it in place)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            pod = pod_of(ident)
            same_pod = [c for c in self.containers() if c.pod == pod]
            c = same_pod[0] if same_pod else None
            if c is None or c.container_id != ident.spawn_id or not c.running:
                if c is not None:
                    self._copy_logs(pod, ident.spawn_id,
                                    previous=c.container_id != ident.spawn_id)
                return exit_of(ident, self.clock.now(), c)
            if cancel is not None and cancel.is_set():
                return None
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            time.sleep(POLL_S if left is None else min(POLL_S, left))

    # ---------------------------------------------------------------- acting

    def restart(self, ident: ProcessIdentity | None, grace_s: float) -> ProcessIdentity:
        """A rollout restart (refused while paused), then the wait for it to finish.

        Not after a crash kubelet already answered: the container that died was replaced in
        place (restartPolicy Always), and a rollout on top would be a second restart.
        """
        del grace_s  # the pod's terminationGracePeriodSeconds governs the stop
        if ident is None or not self._still_running(ident):  # after a death
            fresh = [i for i in self.find() if ident is None or i.spawn_id != ident.spawn_id]
            if fresh:
                log.info("kubelet already restarted the container; no rollout",
                         extra={"target": self.target.name})
                return fresh[0]
        workload = self.workload()
        if workload.get("spec", {}).get("paused"):
            raise ProcessError(self.target.name, "restart",
                               f"{self.kind} {self.workload_name} is paused: a rollout "
                               f"restart would not roll (kubectl rollout resume "
                               f"{self.kind}/{self.workload_name} -n {self.target.namespace})")
        self._patch(restart_patch(self.clock.now()), "restart")
        self._wait_rollout("restart")
        return self._wait_running("restart", ident)

    def start(self) -> ProcessIdentity:
        """Scale back to the count ``stop`` remembered (1 when none), or the running one."""
        running = self.find()
        if running:
            return running[0]
        annotations = self.workload().get("metadata", {}).get("annotations") or {}
        replicas = int(annotations.get(REPLICAS_BEFORE_STOP) or 1)
        self._patch({"metadata": {"annotations": {REPLICAS_BEFORE_STOP: None}},
                     "spec": {"replicas": replicas}}, "start")
        self._wait_rollout("start")
        return self._wait_running("start", None)

    def stop(self, ident: ProcessIdentity | None, grace_s: float) -> StopResult:
        """Scale to 0 (remembering the count), then wait until no container runs."""
        del ident, grace_s
        started = time.monotonic()
        replicas = int(self.workload().get("spec", {}).get("replicas", 1))
        if replicas:
            self._patch({"metadata": {"annotations": {REPLICAS_BEFORE_STOP: str(replicas)}},
                         "spec": {"replicas": 0}}, "stop")
        deadline = time.monotonic() + self.target.rollout_timeout_s
        while self.find():
            if time.monotonic() >= deadline:
                raise ProcessError(self.target.name, "stop",
                                   f"pods still running {self.target.rollout_timeout_s:.0f}s "
                                   f"after scaling {self.kind}/{self.workload_name} to 0")
            time.sleep(POLL_S)
        return StopResult(stopped=bool(replicas), killed=False, survivors=(),
                          duration_s=time.monotonic() - started)

    def take_swept(self) -> tuple[int, ...]:
        return ()  # Kubernetes owns the container's processes

    def request_dump(self, ident: ProcessIdentity) -> bool:
        del ident
        return False  # no signal reaches a container from here

    def py_spy_dump(self, ident: ProcessIdentity) -> str | None:
        del ident
        return None

    def run_command(self, argv: Sequence[str], *, cwd: Path | None,
                    env: Mapping[str, str] | None, timeout_s: float,
                    max_output_bytes: int = commands.MAX_OUTPUT_BYTES) -> CommandResult:
        """The scan test runs here, beside the watcher, as for every manager."""
        return commands.run_command(argv, cwd=cwd, env=env, timeout_s=timeout_s,
                                    max_output_bytes=max_output_bytes)

    # ---------------------------------------------------------------- inside

    def _run_of(self, ident: ProcessIdentity) -> Container | None:
        return next((c for c in self.containers() if c.container_id == ident.spawn_id), None)

    def _still_running(self, ident: ProcessIdentity) -> bool:
        run = self._run_of(ident)
        return run is not None and run.running

    def _patch(self, body: dict[str, Any], operation: str) -> None:
        self._call(operation, lambda: self.api.patch(
            "apps/v1", self.target.namespace, f"{self.kind}s/{self.workload_name}", body,
            params={"fieldManager": "remi-ops"}))

    def _wait_rollout(self, operation: str) -> None:
        deadline = time.monotonic() + self.target.rollout_timeout_s
        while True:
            done, seen = rollout_state(self.kind, self.workload())
            if done:
                return
            if time.monotonic() >= deadline:
                raise ProcessError(self.target.name, operation,
                                   f"rollout of {self.kind}/{self.workload_name} not finished "
                                   f"after {self.target.rollout_timeout_s:.0f}s ({seen})")
            time.sleep(POLL_S)

    def _wait_running(self, operation: str, old: ProcessIdentity | None) -> ProcessIdentity:
        deadline = time.monotonic() + self.target.rollout_timeout_s
        while True:
            fresh = [i for i in self.find() if old is None or i.spawn_id != old.spawn_id]
            if fresh:
                return fresh[0]
            if time.monotonic() >= deadline:
                raise ProcessError(self.target.name, operation,
                                   f"no running {self.target.container} container after "
                                   f"the rollout of {self.kind}/{self.workload_name}")
            time.sleep(POLL_S)

    def _copy_logs(self, pod: str, container_id: str, *, previous: bool = False) -> None:
        """Best effort: a log that cannot be read never hides the container's state."""
        try:
            self.mirror.copy(pod, container_id, previous=previous)
        except (KubeApiError, OSError) as exc:
            log.warning("reading %s's log failed: %s", pod, exc,
                        extra={"target": self.target.name})

    def _fetch_log(self, pod: str, previous: bool, since: str) -> str:
        params = {"container": self.target.container, "timestamps": "true"}
        if previous:
            params["previous"] = "true"
        if since:
            params["sinceTime"] = since
        else:
            params["tailLines"] = str(FIRST_READ_LINES)
        return self.api.get_text("v1", self.target.namespace, f"pods/{pod}/log", params=params)

    def _call(self, operation: str, call: Callable[[], _T]) -> _T:
        try:
            return call()
        except KubeApiError as exc:
            raise ProcessError(self.target.name, operation, str(exc)) from exc
