"""Every sample in docs/deploy/ is parsed and holds what guide.md promises about it."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from remi_ops.config_file import parse_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "deploy"
COLLECTOR = ROOT / "remi_ops" / "metrics" / "collector.py"
BEACON_CHECK = ["python", "-m", "remi_ops.beacon", "check"]
SAMPLES = ["remi-deployment.yaml", "bubabot-deployment.yaml", "prometheus.yml",
           "remi-ops.rules.yml", "alertmanager.yml", "Dockerfile.remi", "remi.service"]


def documents(name: str) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all((DEPLOY / name).read_text(encoding="utf-8")) if d]
    assert all(isinstance(d, dict) for d in docs), name
    return docs


def one(name: str, kind: str) -> dict[str, Any]:
    found = [d for d in documents(name) if d.get("kind") == kind]
    assert len(found) == 1, (name, kind)
    return found[0]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def exported_metric_names() -> set[str]:
    """The names the collector serves: ``remi_ops_`` + gauge names, counters with ``_total``."""
    source = COLLECTOR.read_text(encoding="utf-8")
    gauges = re.findall(r'_gauge\(\s*"(\w+)"', source)
    counters = re.findall(r'_counter\(\s*"(\w+)"', source)
    assert gauges and counters, "the collector's shape changed: update this parser"
    return {f"remi_ops_{g}" for g in gauges} | {f"remi_ops_{c}_total" for c in counters}


def rules() -> list[dict[str, Any]]:
    (doc,) = documents("remi-ops.rules.yml")
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_every_sample_is_in_the_guide() -> None:
    """The guide names each sample file, and each one it names exists."""
    guide = (DEPLOY / "guide.md").read_text(encoding="utf-8")
    assert sorted(p.name for p in DEPLOY.iterdir() if p.name != "guide.md") == sorted(SAMPLES)
    for name in SAMPLES:
        assert f"({name})" in guide, name


@pytest.mark.parametrize("name", [s for s in SAMPLES if s.endswith((".yaml", ".yml"))])
def test_yaml_samples_parse(name: str) -> None:
    """Each YAML sample is valid YAML with at least one document."""
    assert documents(name)


@pytest.mark.parametrize("name", ["remi-deployment.yaml", "bubabot-deployment.yaml"])
def test_one_replica_recreated_never_rolled(name: str) -> None:
    """A one-token Discord bot: replicas 1 and Recreate (RollingUpdate runs two copies)."""
    spec = one(name, "Deployment")["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()


def test_remi_liveness_probe_is_the_beacon_check() -> None:
    """Remi's liveness probe execs the beacon check, with the file from the container's env."""
    remi = container(one("remi-deployment.yaml", "Deployment"))
    assert remi["livenessProbe"]["exec"]["command"] == BEACON_CHECK
    env = {e["name"]: e["value"] for e in remi["env"]}
    beacon_dir = str(Path(env["REMI_BEACON_FILE"]).parent)
    assert beacon_dir in {m["mountPath"] for m in remi["volumeMounts"]}


def test_bubabot_uses_the_rbac_service_account_and_serves_its_ports() -> None:
    """Bubabot runs as the ``bubabot`` ServiceAccount; the Service, the config and
    Prometheus agree on the metrics port, Alertmanager on the receiver's."""
    deployment = one("bubabot-deployment.yaml", "Deployment")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "bubabot"
    config = tomllib.loads(one("bubabot-deployment.yaml", "ConfigMap")["data"]["bubabot.toml"])
    service = one("bubabot-deployment.yaml", "Service")
    ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
    assert config["metrics"]["listen"].endswith(f":{ports['metrics']}")
    assert config["alertmanager"]["listen"].endswith(f":{ports['alertmanager']}")
    assert config["targets"][0]["manager"] == "kubernetes"
    settings = parse_settings(config, base_dir=Path("/etc/bubabot"))  # valid as it stands
    assert settings.alertmanager.target_label == "target"  # the rules' label
    assert settings.discord.guild_id and settings.discord.alert_channel_id  # bubabot needs both
    mounts = {m["mountPath"] for m in deployment["spec"]["template"]["spec"]["containers"][0][
        "volumeMounts"]}
    assert str(settings.state_dir) in mounts, "the store is on a writable volume"
    (prometheus,) = documents("prometheus.yml")
    (scrape,) = prometheus["scrape_configs"]
    assert scrape["job_name"] == "remi-ops"
    assert scrape["static_configs"][0]["targets"] == [f"bubabot.remi.svc:{ports['metrics']}"]
    (alertmanager,) = documents("alertmanager.yml")
    (hook,) = alertmanager["receivers"][0]["webhook_configs"]
    assert hook["url"] == f"http://bubabot.remi.svc:{ports['alertmanager']}/alertmanager"


def test_alertmanager_routes_to_bubabot_with_a_bearer_token() -> None:
    """The route's receiver is Bubabot's; the token comes from a file, never inline."""
    (config,) = documents("alertmanager.yml")
    assert config["route"]["receiver"] == "bubabot"
    (receiver,) = config["receivers"]
    (hook,) = receiver["webhook_configs"]
    assert hook["send_resolved"] is True
    auth = hook["http_config"]["authorization"]
    assert auth["type"] == "Bearer"
    assert "credentials" not in auth
    assert auth["credentials_file"].startswith("/")


def test_rules_cover_what_the_guide_promises() -> None:
    """Target down, restarts, loop lag and error bursts, each with a severity and summary."""
    by_name = {rule["alert"]: rule for rule in rules()}
    assert {"RemiDown", "RemiRestartingOften", "RemiLoopBlocked", "RemiErrorBurst"} <= set(by_name)
    for rule in by_name.values():
        assert rule["labels"]["severity"] in {"page", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


def test_rules_use_only_metrics_the_collector_serves() -> None:
    """A renamed metric would silently never fire: every remi_ops_* name must exist."""
    served = exported_metric_names()
    used = {name for rule in rules() for name in re.findall(r"\bremi_ops_\w+", rule["expr"])}
    assert used
    assert used <= served, sorted(used - served)


def test_promtool_accepts_the_rules(tmp_path: Path) -> None:
    """``promtool check rules`` (Prometheus' own parser, PromQL included) passes."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not on PATH (Debian: the prometheus package); the rules "
                    "were only parsed as YAML and their metric names checked")
    result = subprocess.run([promtool, "check", "rules", str(DEPLOY / "remi-ops.rules.yml")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_accepts_the_alertmanager_config() -> None:
    """``amtool check-config`` passes (the token file need not exist for it)."""
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool is not on PATH (Debian: prometheus-alertmanager); the config "
                    "was only parsed as YAML and its route checked")
    result = subprocess.run([amtool, "check-config", str(DEPLOY / "alertmanager.yml")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (DEPLOY / "Dockerfile.remi").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [(k.upper(), v.strip()) for k, _, v in
            (line.strip().partition(" ") for line in joined.splitlines() if line.strip())]


def test_dockerfile_healthcheck_is_the_beacon_check() -> None:
    """HEALTHCHECK runs the beacon check in exec form, with the beacon file in ENV."""
    instructions = dockerfile_instructions()
    (healthcheck,) = [args for name, args in instructions if name == "HEALTHCHECK"]
    options, _, command = healthcheck.partition("CMD ")
    assert json.loads(command) == BEACON_CHECK
    assert {o.split("=")[0] for o in shlex.split(options)} <= {
        "--interval", "--timeout", "--start-period", "--start-interval", "--retries"}
    (env,) = [args for name, args in instructions if name == "ENV"]
    assert "REMI_BEACON_FILE=" in env


@pytest.mark.integration
@pytest.mark.parametrize("where", ["kubernetes", "docker"])
def test_the_sample_probe_commands_run(tmp_path: Path, where: str) -> None:
    """The probe exactly as written (``python`` being this interpreter) judges a real file."""
    if where == "kubernetes":
        command = container(one("remi-deployment.yaml", "Deployment"))["livenessProbe"][
            "exec"]["command"]
    else:
        (healthcheck,) = [a for n, a in dockerfile_instructions() if n == "HEALTHCHECK"]
        command = json.loads(healthcheck.partition("CMD ")[2])
    path = tmp_path / "beacon.json"
    now = time.time()
    path.write_text(json.dumps({
        "schema": 1, "pid": 1, "written_at": now, "last_beat_at": now, "loop_lag_s": 0.001,
        "max_lag_s": 0.001, "interval_s": 2.0, "blocked_for_s": 0.0, "stuck_stack": None,
        "stopped": False}), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REMI_BEACON_FILE": str(path)}
    argv = [sys.executable, *command[1:]]
    healthy = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30,
                             check=False)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    path.unlink()
    missing = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30,
                             check=False)
    assert missing.returncode == 1


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (DEPLOY / "remi.service").read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_unit_feeds_the_systemd_watchdog() -> None:
    """Type=notify (READY=1 from the beacon), a WatchdogSec above the hang threshold."""
    settings = unit_settings()
    assert settings["Type"] == ["notify"]
    assert settings["NotifyAccess"] == ["main"]
    assert float(settings["WatchdogSec"][0]) > 60  # hang_threshold_s: remi-ops acts first
    assert "REMI_BEACON_FILE=/run/remi/beacon.json" in settings["Environment"]
    assert settings["RuntimeDirectory"] == ["remi"]


@pytest.mark.integration
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    """``systemd-analyze verify`` finds no error and no warning (unknown keys warn only)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not on PATH; the unit was only parsed")
    # verify insists that ExecStart's program exists: point it at this interpreter
    text = (DEPLOY / "remi.service").read_text(encoding="utf-8")
    unit = tmp_path / "remi.service"
    unit.write_text(text.replace("/srv/remi/venv/bin/python", sys.executable), encoding="utf-8")
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
