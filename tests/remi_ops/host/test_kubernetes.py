"""manager = "kubernetes" against the Kubernetes API emulator on 127.0.0.1: status from
the pods, OOMKilled with its exit code, previous logs into error groups, the rollout restart
patch exactly as kubectl sends it, a paused rollout refused, a rollout timeout reported."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from bubabot_local.k8s_emulator import KubeEmulator

from remi_ops.clock import FakeClock
from remi_ops.config import TargetSettings
from remi_ops.domain import LogKind
from remi_ops.exceptions import ProcessError
from remi_ops.host.k8s_api import KubeApi
from remi_ops.host.kubernetes import KubernetesManager
from remi_ops.logs.parse import LogParser
from remi_ops.supervision.policy import describe_exit

pytestmark = pytest.mark.integration
NOW = datetime(2026, 1, 24, 10, 0, 0, tzinfo=UTC)


def target(tmp_path: Path, **extra: object) -> TargetSettings:
    return TargetSettings.parse({
        "name": "remi", "workdir": str(tmp_path), "manager": "kubernetes",
        "namespace": "bots", "deployment": "remi", "container": "remi", **extra})


@pytest.fixture
async def kube() -> AsyncIterator[KubeEmulator]:
    emulator = KubeEmulator(annotations={"team": "music"})
    emulator.add_pod()
    await emulator.start()
    yield emulator
    await emulator.close()


@pytest.fixture
async def manager(kube: KubeEmulator, tmp_path: Path) -> AsyncIterator[KubernetesManager]:
    api = KubeApi(url=kube.url)
    yield KubernetesManager(target(tmp_path, rollout_timeout_s=3), clock=FakeClock(NOW),
                            api=api)
    await asyncio.to_thread(api.close)


async def test_status_comes_from_the_pods(kube: KubeEmulator, manager: KubernetesManager) -> None:
    found = await asyncio.to_thread(manager.find)
    assert len(found) == 1
    assert found[0].cmdline == ("kubernetes", f"bots/{kube.pods[0]['metadata']['name']}", "remi")
    assert found[0].pid > 4_194_304  # never a real local pid
    snap = await asyncio.to_thread(manager.snapshot, found[0])
    assert snap is not None and snap.status == "running"
    containers = await asyncio.to_thread(manager.containers)
    assert containers[0].ready and containers[0].phase == "Running"
    assert containers[0].restart_count == 0


async def test_oom_kill_is_an_exit_with_its_reason_and_code(
        kube: KubeEmulator, manager: KubernetesManager) -> None:
    ident = (await asyncio.to_thread(manager.find))[0]
    kube.crash(kube.pods[0]["metadata"]["name"], reason="OOMKilled", exit_code=137)
    info = await asyncio.to_thread(manager.wait_exit, ident, 5.0)
    assert info is not None and info.known
    assert (info.returncode, info.signal, info.reason) == (137, 9, "OOMKilled")
    assert describe_exit(info) == "killed by SIGKILL (OOMKilled)"
    containers = await asyncio.to_thread(manager.containers)
    assert containers[0].restart_count == 1 and containers[0].last_reason == "OOMKilled"


async def test_previous_logs_are_copied_once_and_parse_into_error_groups(
        kube: KubeEmulator, manager: KubernetesManager, tmp_path: Path) -> None:
    pod = kube.pods[0]["metadata"]["name"]
    ident = (await asyncio.to_thread(manager.find))[0]
    kube.log(pod, "2026-01-24T10:00:01.5Z", "2026-01-24 10:00:01 INFO remi: ready")
    await asyncio.to_thread(manager.snapshot, ident)  # copies the current run's lines
    for line in ["2026-01-24 10:04:59 ERROR remi.player: play failed",
                 "Traceback (most recent call last):",
                 '  File "/app/player.py", line 3, in play',
                 "MemoryError: out of memory"]:
        kube.log(pod, "2026-01-24T10:04:59.25Z", line)
    kube.crash(pod)  # the log above is now the previous run's
    info = await asyncio.to_thread(manager.wait_exit, ident, 5.0)
    assert info is not None
    again = await asyncio.to_thread(manager.mirror.copy, pod, ident.spawn_id, previous=True)
    assert again == 0  # sinceTime is inclusive: nothing is copied twice
    text = (tmp_path / "bot_error.log").read_text()
    assert text.count("remi: ready") == 1 and text.count("MemoryError") == 1
    parser = LogParser(source="stderr")
    records = parser.feed_bytes(text.encode()) + parser.flush()
    errors = [r for r in records if r.kind in (LogKind.CRASH, LogKind.ERROR)]
    assert [r.exc_type for r in errors] == ["MemoryError"] and errors[0].fingerprint


async def test_restart_is_kubectls_rollout_restart(kube: KubeEmulator,
                                                   manager: KubernetesManager) -> None:
    old = (await asyncio.to_thread(manager.find))[0]
    new = await asyncio.to_thread(manager.restart, old, 10.0)
    assert new.spawn_id != old.spawn_id
    [patch] = kube.patches
    assert patch.content_type == "application/strategic-merge-patch+json"
    assert patch.body == {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2026-01-24T10:00:00Z"}}}}}
    assert kube.annotations == {"team": "music",
                                "kubectl.kubernetes.io/restartedAt": "2026-01-24T10:00:00Z"}


async def test_a_crash_kubelet_already_restarted_is_not_restarted_again(
        kube: KubeEmulator, manager: KubernetesManager) -> None:
    """restartPolicy Always: kubelet replaced the dead container in place; the watcher's
    restart after the death takes that one instead of rolling the workload again."""
    dead = (await asyncio.to_thread(manager.find))[0]
    kube.crash(kube.pods[0]["metadata"]["name"], reason="Error", exit_code=1)
    new = await asyncio.to_thread(manager.restart, dead, 10.0)
    assert new.spawn_id != dead.spawn_id
    assert kube.patches == []  # no rollout on top of kubelet's restart
    again = await asyncio.to_thread(manager.restart, new, 10.0)  # a running one: a rollout
    assert again.spawn_id != new.spawn_id and len(kube.patches) == 1


async def test_a_paused_rollout_is_refused(kube: KubeEmulator,
                                           manager: KubernetesManager) -> None:
    kube.paused = True
    running = (await asyncio.to_thread(manager.find))[0]
    with pytest.raises(ProcessError, match=r"deployment remi is paused.*rollout resume"):
        await asyncio.to_thread(manager.restart, running, 10.0)
    assert kube.patches == []


async def test_a_rollout_that_does_not_finish_is_a_failed_restart(
        kube: KubeEmulator, manager: KubernetesManager) -> None:
    kube.stuck = True
    running = (await asyncio.to_thread(manager.find))[0]
    with pytest.raises(ProcessError, match=r"rollout of deployment/remi not finished after "
                                           r"3s \(generation 2 observed 1.*0 updated"):
        await asyncio.to_thread(manager.restart, running, 10.0)
    assert len(kube.patches) == 1


async def test_stop_scales_to_zero_and_start_gives_the_count_back(
        kube: KubeEmulator, manager: KubernetesManager) -> None:
    result = await asyncio.to_thread(manager.stop, None, 10.0)
    assert result.stopped and kube.pods == [] and kube.replicas == 0
    assert kube.workload_meta_annotations == {"remi-ops/replicas-before-stop": "1"}
    ident = await asyncio.to_thread(manager.start)
    assert kube.replicas == 1 and ident.spawn_id
    assert kube.workload_meta_annotations == {}


def test_kubernetes_needs_a_namespace_and_one_workload(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="deployment or statefulset"):
        target(tmp_path, statefulset="remi")
    with pytest.raises(ValueError, match="namespace and container"):
        TargetSettings.parse({"name": "remi", "workdir": str(tmp_path),
                              "manager": "kubernetes", "deployment": "remi"})


def test_the_documented_rbac_grants_what_the_manager_calls_and_no_delete() -> None:
    docs = Path(__file__).parents[3] / "docs" / "k8s" / "rbac.yaml"
    kinds = {d["kind"]: d for d in yaml.safe_load_all(docs.read_text())}
    assert set(kinds) == {"ServiceAccount", "Role", "RoleBinding"}
    grants = {(g, r): set(rule["verbs"]) for rule in kinds["Role"]["rules"]
              for g in rule["apiGroups"] for r in rule["resources"]}
    assert grants[("", "pods")] >= {"get", "list"} and grants[("", "pods/log")] == {"get"}
    assert grants[("apps", "deployments")] == {"get", "patch"}
    assert not any("delete" in verbs for verbs in grants.values())
    assert kinds["RoleBinding"]["roleRef"]["name"] == kinds["Role"]["metadata"]["name"]
