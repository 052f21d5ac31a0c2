"""A watcher with a Kubernetes target, end to end against the Kubernetes API emulator,
reached the way production reaches a cluster: a kubeconfig context (``KUBECONFIG``).

An OOMKilled container is a death the watcher notices, reports with its reason and records
as a crash restart (kubelet's own, not a rollout on top); a person's restart is kubectl's
rollout restart.

Checks are 30 s apart: the death is the exit waiter's to notice (a check that found the
container gone first would restart it as "process is not running", without the reason)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bubabot_local.k8s_emulator import KubeEmulator

from remi_ops.config_file import parse_settings
from remi_ops.domain import Trigger
from remi_ops.store.records import HistoryKind
from remi_ops.testing import running, wait_until_async
from remi_ops.watch import runbook
from remi_ops.watch.watcher import Watcher

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
async def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[KubeEmulator]:
    emulator = KubeEmulator(annotations={"team": "music"})
    emulator.add_pod()
    await emulator.start()
    config = tmp_path / "kubeconfig"
    config.write_text(json.dumps({  # JSON is YAML: a kubeconfig as kubectl writes it
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "emu", "cluster": {"server": emulator.url}}],
        "users": [{"name": "ops", "user": {"token": "test-token-not-secret"}}],
        "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "ops"}},
                     {"name": "other", "context": {"cluster": "emu", "user": "ops"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(config))
    yield emulator
    await emulator.close()


@pytest.fixture
async def watcher(kube: KubeEmulator, tmp_path: Path) -> AsyncIterator[Watcher]:
    del kube
    settings = parse_settings({
        "watchdog": {"state_dir": str(tmp_path / "state"), "check_interval_s": 30},
        "alerts": {"group_wait_s": 0, "group_interval_s": 0},
        "targets": [{"name": "remi", "workdir": str(tmp_path / "remi"),
                     "manager": "kubernetes", "namespace": "bots", "deployment": "remi",
                     "container": "remi", "context": "emu", "rollout_timeout_s": 10}]},
        base_dir=tmp_path)
    (tmp_path / "remi").mkdir()
    async with running(Watcher(settings, console=None, environ={})) as watcher:
        yield watcher


async def restarts(watcher: Watcher) -> list[tuple[Trigger, str]]:
    items = await runbook.history(watcher, None, None)
    return [(i.restart.trigger, i.restart.reason) for i in items
            if i.kind is HistoryKind.RESTART and i.restart is not None]


async def test_an_oom_killed_container_is_a_crash_reported_with_its_reason(
        kube: KubeEmulator, watcher: Watcher) -> None:
    watch = watcher.watch(None)
    await wait_until_async(lambda: watch.supervisor.process is not None, timeout=20,
                           what="the container adopted")
    kube.crash(kube.pods[0]["metadata"]["name"], reason="OOMKilled", exit_code=137)

    async def crash_recorded() -> bool:
        return any(t is Trigger.CRASH for t, _ in await restarts(watcher))

    for _ in range(400):  # generous: the bench measures speed, not this test
        if await crash_recorded():
            break
        await asyncio.sleep(0.1)
    [(_, reason)] = [r for r in await restarts(watcher) if r[0] is Trigger.CRASH]
    assert reason.startswith("killed by SIGKILL (OOMKilled)"), reason
    assert kube.patches == [], "kubelet restarted it in place: no rollout on top"
    alert_file = watch.target.alert_file
    await wait_until_async(lambda: "OOMKilled" in alert_file.read_text("utf-8")
                           if alert_file.exists() else False, timeout=20,
                           what="the crash in .bot_alert")


async def test_a_persons_restart_is_kubectls_rollout_restart(
        kube: KubeEmulator, watcher: Watcher) -> None:
    watch = watcher.watch(None)
    await wait_until_async(lambda: watch.supervisor.process is not None, timeout=20,
                           what="the container adopted")
    report = await runbook.restart(watcher, None, "cli:ana", "stuck on /scan")
    assert report.ok, report.detail
    [patch] = kube.patches
    assert patch.content_type == "application/strategic-merge-patch+json"
    annotations = patch.body["spec"]["template"]["metadata"]["annotations"]
    assert list(annotations) == ["kubectl.kubernetes.io/restartedAt"]
    assert kube.annotations["team"] == "music"  # kept
