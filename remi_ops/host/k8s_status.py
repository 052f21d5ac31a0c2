"""What the Kubernetes API says about a workload and its pods, read into our shapes.

Pure functions over the API's JSON (no client, no I/O), so each is tested on its own:
a container's state as a :class:`~remi_ops.domain.ProcessIdentity` /
:class:`~remi_ops.domain.ProcessSnapshot` / :class:`~remi_ops.domain.ExitInfo` (the shapes
every other manager feeds the watch), the rollout-restart patch exactly as
``kubectl rollout restart`` sends it, and whether a rollout has finished.

A container has no pid on this machine. Its identity carries the container ID (what
changes when kubelet restarts it) as ``spawn_id`` and a made-up pid above any real pid
limit (Linux caps pids at 2**22, macOS at 99 999), so no local process is ever taken for
it, signalled or followed.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from remi_ops.domain import ExitInfo, ProcessIdentity, ProcessSnapshot

#: the annotation ``kubectl rollout restart`` sets on the pod template
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
#: where ``stop`` remembers the replica count ``start`` gives back
REPLICAS_BEFORE_STOP = "remi-ops/replicas-before-stop"
#: made-up pids start above every real pid limit
PID_BASE = 10_000_000


@dataclass(frozen=True, slots=True)
class Container:
    """One container of one pod, as the pod's status tells it."""

    pod: str
    name: str
    container_id: str  # "" while it has never started
    running: bool
    ready: bool
    phase: str
    restart_count: int
    started_at: float | None  # epoch seconds of the running state
    terminating: bool  # the pod has a deletionTimestamp
    #: the last run's end (``lastState.terminated``, or ``state.terminated``)
    last_reason: str
    last_exit_code: int | None
    last_container_id: str
    waiting_reason: str  # CrashLoopBackOff, ImagePullBackOff, …


def rfc3339(moment: datetime) -> str:
    """``2026-01-24T10:00:00Z``: Go's time.RFC3339 of a UTC time, as kubectl writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def restart_patch(now: datetime) -> dict[str, Any]:
    """The body of ``kubectl rollout restart``: only the pod template's restartedAt."""
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: rfc3339(now)}}}}}


def selector_of(workload: dict[str, Any]) -> str:
    """``app=remi,tier=bot`` from ``spec.selector.matchLabels`` (a label selector)."""
    labels = workload.get("spec", {}).get("selector", {}).get("matchLabels") or {}
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def containers_of(pods: dict[str, Any], container: str) -> list[Container]:
    """The named container of every pod in a pod list, oldest pod first."""
    found: list[Container] = []
    items = sorted(pods.get("items") or [],
                   key=lambda p: p.get("metadata", {}).get("creationTimestamp") or "")
    for pod in items:
        meta, status = pod.get("metadata", {}), pod.get("status", {})
        for cs in status.get("containerStatuses") or []:
            if cs.get("name") == container:
                found.append(_container(meta, status, cs))
    return found


def _container(meta: dict[str, Any], status: dict[str, Any], cs: dict[str, Any]) -> Container:
    state, last = cs.get("state") or {}, cs.get("lastState") or {}
    ended = state.get("terminated") or last.get("terminated") or {}
    return Container(
        pod=str(meta.get("name", "")), name=str(cs.get("name", "")),
        container_id=str(cs.get("containerID") or ""),
        running="running" in state, ready=bool(cs.get("ready")),
        phase=str(status.get("phase", "")), restart_count=int(cs.get("restartCount") or 0),
        started_at=parse_time((state.get("running") or {}).get("startedAt")),
        terminating=bool(meta.get("deletionTimestamp")),
        last_reason=str(ended.get("reason") or ""),
        last_exit_code=ended.get("exitCode") if isinstance(ended.get("exitCode"), int) else None,
        last_container_id=str(ended.get("containerID") or ""),
        waiting_reason=str((state.get("waiting") or {}).get("reason") or ""))


def identity_of(namespace: str, c: Container) -> ProcessIdentity:
    """The container's run as a process identity (see the module's note on the pid)."""
    pid = PID_BASE + zlib.crc32(c.container_id.encode()) % 1_000_000_000
    return ProcessIdentity(pid=pid, create_time=c.started_at or 0.0,
                           cmdline=("kubernetes", f"{namespace}/{c.pod}", c.name),
                           spawn_id=c.container_id)


def pod_of(ident: ProcessIdentity) -> str:
    """The pod name an identity made by :func:`identity_of` names."""
    return ident.cmdline[1].partition("/")[2] if len(ident.cmdline) > 1 else ""


def snapshot_of(ident: ProcessIdentity, c: Container, now_epoch: float) -> ProcessSnapshot:
    """A look at the container: no CPU or memory figures (that needs metrics-server)."""
    status = "running" if c.ready else f"not-ready ({c.phase or 'unknown phase'})"
    return ProcessSnapshot(ident, status, 0.0, 0, (), max(0.0, now_epoch - ident.create_time))


def exit_of(ident: ProcessIdentity, now: datetime, c: Container | None) -> ExitInfo:
    """How the container run ``ident`` ended: exit code and reason (``OOMKilled``) when
    kubelet recorded them; a code above 128 is the signal that ended it (137: SIGKILL)."""
    if c is None or c.last_container_id != ident.spawn_id or c.last_exit_code is None:
        return ExitInfo(ident.pid, None, None, now, known=False,
                        reason="its pod is gone" if c is None else "")
    code = c.last_exit_code
    signal = code - 128 if 128 < code < 128 + 65 else None
    return ExitInfo(ident.pid, code, signal, now, known=True, reason=c.last_reason)


def rollout_state(kind: str, workload: dict[str, Any]) -> tuple[bool, str]:
    """Whether the rollout is done, and what was seen (for a timeout's report)."""
    meta, spec, st = workload.get("metadata", {}), workload.get("spec", {}), \
        workload.get("status", {})
    want = int(spec.get("replicas", 1))
    generation, observed = int(meta.get("generation", 0)), int(st.get("observedGeneration", 0))
    updated, total = int(st.get("updatedReplicas", 0)), int(st.get("replicas", 0))
    available = int(st.get("availableReplicas" if kind == "deployment" else "readyReplicas", 0))
    seen = (f"generation {generation} observed {observed}, replicas {want} wanted / "
            f"{total} present / {updated} updated / {available} available")
    done = observed >= generation and updated == want and available == want and total == want
    if kind == "statefulset":
        done = done and st.get("currentRevision") == st.get("updateRevision")
    return done, seen
