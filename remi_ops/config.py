"""Typed, frozen settings; secrets only from the environment.

The models, one per TOML table: ``msgspec.Struct`` s (no ``__dict__``, and msgspec imports
in about 1.3 MB where pydantic took 8.3: docs/scale.md "## Memory"). Reading a file (where it
is looked for, TOML errors, the ``path.to.field: problem`` lines) is
``remi_ops.config_file``'s.

A model is made from parsed data (``Model.parse``) or by keyword, held to the same rules
either way: ``remi_ops.config_model``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec.structs import force_setattr

from remi_ops.config_bounds import (
    DAY,
    HOUR,
    MAX_SNOWFLAKE,
    MAX_WINDOW_S,
    amount,
    count,
    seconds,
)
from remi_ops.config_model import SettingsModel, field_rule

#: a process exit status (what ``exit(n)`` can return)
ExitCode = Annotated[int, count(0, 255)]
Snowflake = Annotated[int, count(0, MAX_SNOWFLAKE)]


class WatchdogSettings(SettingsModel, frozen=True, kw_only=True):
    """``[watchdog]``: the watcher itself."""

    check_interval_s: Annotated[float, seconds(0, HOUR)] = 60.0
    state_dir: Path = Path("~/.local/state/bubabot")
    #: seconds after which the watcher's own heartbeat in .bot_health is considered stale
    heartbeat_stale_s: Annotated[float, seconds(0, DAY)] = 180.0
    #: a Healthchecks-style dead-man URL: pinged after each check while Remi is healthy,
    #: ``/fail`` when not, ``/start`` when the watcher starts; empty = off. Its value is
    #: treated as a secret (a ping URL is a credential) and redacted everywhere
    heartbeat_url: str = ""
    #: the longest a ping may take; a slow or dead ping server never delays a check
    heartbeat_timeout_s: Annotated[float, seconds(0, 60)] = 10.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.heartbeat_url and not re.fullmatch(r"https?://\S+", self.heartbeat_url):
            # never echo it: a credential
            raise ValueError("heartbeat_url: must be an http:// or https:// URL (a ping URL)")
        if self.heartbeat_stale_s <= self.check_interval_s:  # refreshed once per check
            raise ValueError("heartbeat_stale_s: must be more than check_interval_s")


class RestartPolicy(SettingsModel, frozen=True, kw_only=True):
    """``[targets.restart]``: when and how fast to restart; never a storm, never silent."""

    enabled: bool = True
    #: the first restart after a crash that followed stable running waits at most this
    immediate_delay_s: Annotated[float, seconds(0, HOUR, low_open=False)] = 0.0
    backoff_initial_s: Annotated[float, seconds(0, HOUR)] = 1.0
    backoff_factor: Annotated[float, amount(1, 10)] = 2.0
    backoff_max_s: Annotated[float, seconds(0, DAY)] = 300.0
    #: jitter as a fraction of the delay (0.2 → ±20 %)
    jitter: Annotated[float, amount(0, 1)] = 0.2
    #: uptime after which the backoff resets and a crash counts as "after stable running"
    stable_after_s: Annotated[float, seconds(0, DAY)] = 600.0
    #: a process that dies within this many seconds of starting failed to start
    start_seconds: Annotated[float, seconds(0, HOUR, low_open=False)] = 1.0
    budget_restarts: Annotated[int, count(1, 1000)] = 5
    budget_window_s: Annotated[float, seconds(0, MAX_WINDOW_S)] = 900.0
    #: once the budget is spent: escalate, then retry this slowly instead of looping hot
    gave_up_retry_s: Annotated[float, seconds(0, DAY)] = 1800.0
    #: exit codes restarting cannot fix (a bad token, say): escalate to a human instead
    no_restart_exit_codes: tuple[ExitCode, ...] = (78,)
    #: TERM → this grace → KILL
    stop_grace_s: Annotated[float, seconds(0, HOUR)] = 10.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be >= backoff_initial_s")


class HealthSettings(SettingsModel, frozen=True, kw_only=True):
    """``[targets.health]``: thresholds for the checks."""

    cpu_percent_max: Annotated[float, amount(0, 100 * 1024, low_open=True)] = 90.0
    rss_mb_max: Annotated[float, amount(0, 1024 * 1024, low_open=True)] = 1024.0
    #: a CPU/RSS threshold must be crossed for this many consecutive checks
    sustained_checks: Annotated[int, count(1, 1000)] = 3
    #: an event loop blocked this long is a hang: capture evidence, then restart
    hang_threshold_s: Annotated[float, seconds(0, DAY)] = 60.0
    #: a beacon older than this means the loop is not running
    beacon_stale_s: Annotated[float, seconds(0, DAY)] = 15.0
    #: this many error records in one check is a burst
    error_burst: Annotated[int, count(1, 1_000_000)] = 10
    #: an error group seen within this many seconds keeps ``health`` from saying healthy
    recent_errors_s: Annotated[float, seconds(0, DAY)] = 600.0
    #: on first attach, read at most this much of the end of an existing log
    initial_read_bytes: Annotated[int, count(1, 1024**3)] = 4 * 1024 * 1024


class ScanTestSettings(SettingsModel, frozen=True, kw_only=True):
    """``[targets.scan_test]``: the out-of-band ``/scan`` smoke test."""

    command: tuple[str, ...] = ()
    timeout_s: Annotated[float, seconds(0, HOUR)] = 120.0
    expect_exit_code: ExitCode = 0
    #: a regular expression the output must match (searched), if set
    expect_pattern: str = ""
    latency_budget_s: Annotated[float, seconds(0, HOUR)] = 30.0
    #: run it by itself after every restart and when Remi's code changes
    after_restart: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        try:
            re.compile(self.expect_pattern)
        except re.error as exc:
            raise ValueError(f"expect_pattern: not a valid regular expression ({exc})") from exc


class LogSettings(SettingsModel, frozen=True, kw_only=True):
    """``[targets.logs]``: the logs Remi writes itself, and how all of its logs rotate.

    ``logs = ["discord.log"]`` (a list) is the short form of ``files``.
    """

    #: more logs Remi writes itself (a ``logging.FileHandler``, like discord.py's
    #: ``discord.log``), relative to workdir; stdout_log/stderr_log are always watched
    files: tuple[Path, ...] = ()
    #: a log (stdout_log, stderr_log and ``files``) past this size is rotated by copytruncate
    #: (Remi keeps its append handle); 0 = never
    max_bytes: Annotated[int, count(0, 1024**4)] = 50 * 1024 * 1024
    #: rotated copies kept (``bot.log.1`` … ``bot.log.N``)
    keep: Annotated[int, count(1, 100)] = 5


def host_and_port(value: str, example: str) -> str:
    """A listen address, ``host:port`` or ``[v6]:port``; empty means off."""
    if value and not re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}", value):
        raise ValueError(f"must be host:port, e.g. {example}")
    if value and not 1 <= int(value.rpartition(":")[2]) <= 65535:
        raise ValueError(f"the port must be from 1 to 65535 (e.g. {example})")
    return value


class MetricsSettings(SettingsModel, frozen=True, kw_only=True):
    """``[metrics]``: Prometheus metrics over HTTP."""

    #: ``host:port`` to serve ``/metrics`` on (e.g. ``127.0.0.1:9808``); empty = off
    listen: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        field_rule("listen", host_and_port, self.listen, "127.0.0.1:9808")


class AlertmanagerSettings(SettingsModel, frozen=True, kw_only=True):
    """``[alertmanager]``: Bubabot as Alertmanager's webhook receiver (docs/alertmanager.md).
    The bearer token is ``ALERTMANAGER_WEBHOOK_TOKEN`` in the environment."""

    #: ``host:port`` to serve ``POST /alertmanager`` on (e.g. ``127.0.0.1:9809``); empty = off
    listen: str = ""
    #: the alert label naming a Bubabot target, for the Runbook button
    target_label: str = "bot"
    #: Alertmanager's API for silences; empty = the ``externalURL`` of each notification
    api_url: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        field_rule("listen", host_and_port, self.listen, "127.0.0.1:9809")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.target_label):
            raise ValueError("target_label: must be a Prometheus label name (letters, digits, "
                             "_), e.g. bot")
        if self.api_url and not re.fullmatch(r"https?://\S+", self.api_url):
            raise ValueError("api_url: must be an http:// or https:// URL, e.g. "
                             "http://127.0.0.1:9093")


Manager = Literal["process", "systemd", "launchd", "kubernetes"]
_TARGET_FILES = ("stdout_log", "stderr_log", "health_file", "alert_file", "beacon_file")


class TargetSettings(SettingsModel, frozen=True, kw_only=True):
    """``[[targets]]``: one bot to keep alive."""

    name: Annotated[str, msgspec.Meta(
        min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="lowercase letters, digits, _ and -, starting with a letter or digit")]
    workdir: Path
    command: tuple[str, ...] = ()
    env: Mapping[str, str] = msgspec.field(default_factory=dict)
    #: names of Bubabot's environment variables Remi (and its scan test) may see; the rest
    #: of Bubabot's environment, its DISCORD_TOKEN above all, never reaches Remi
    pass_env: tuple[Annotated[str, msgspec.Meta(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="an environment variable's name (letters, digits, _)")], ...] = ()
    stdout_log: Path = Path("bot.log")
    stderr_log: Path = Path("bot_error.log")
    logs: LogSettings = LogSettings()
    health_file: Path = Path(".bot_health")
    alert_file: Path = Path(".bot_alert")
    beacon_file: Path = Path(".remi_beacon.json")
    manager: Manager = "process"
    #: systemd unit name, for manager = "systemd"
    unit: str = ""
    #: use ``systemctl --user``
    user_unit: bool = True
    #: launchd label (``com.remi.bot``), for manager = "launchd"
    label: str = ""
    #: for manager = "kubernetes": the namespace, the workload (a Deployment or a
    #: StatefulSet), the container Remi runs in, and the kubeconfig context (empty: the
    #: current context, or the pod's service account when Bubabot runs in the cluster)
    namespace: str = ""
    deployment: str = ""
    statefulset: str = ""
    container: str = ""
    context: str = ""
    #: how long a rollout restart may take to finish before it is reported as failed
    rollout_timeout_s: Annotated[float, seconds(0, HOUR)] = 300.0
    #: paths (relative to workdir) whose change means "a fix landed": rerun the scan test
    watch_paths: tuple[Path, ...] = ()
    #: the user Remi runs as if not the watcher's (never a user switch at start); a process
    #: of any other user is never taken for Remi, nor signalled
    process_user: str = ""
    #: extra environment variable names whose values are secrets to redact (values of any
    #: variable whose name looks secret are redacted anyway: ``remi_ops.logs.known_secrets``)
    secret_env: tuple[str, ...] = ()
    #: dotenv files (relative to workdir) whose secret-looking values are redacted;
    #: None = ``.env`` in the workdir when present
    env_files: tuple[Path, ...] | None = None
    restart: RestartPolicy = RestartPolicy()
    health: HealthSettings = HealthSettings()
    scan_test: ScanTestSettings = ScanTestSettings()

    @classmethod
    def short_forms(cls, data: Any) -> Any:
        """``logs = ["discord.log"]`` (a list) is the short form of ``logs.files``."""
        if isinstance(data, dict) and isinstance(data.get("logs"), list | tuple):
            return {**data, "logs": {"files": data["logs"]}}
        return data

    def __post_init__(self) -> None:
        super().__post_init__()
        self._resolve_paths()
        self._manager_needs()

    def _resolve_paths(self) -> None:
        """Expand ``~`` and resolve every file path (defaults included) against ``workdir``;
        run again by ``msgspec.structs.replace``, where the paths are already absolute."""
        workdir = Path(self.workdir).expanduser()
        force_setattr(self, "workdir", workdir)
        for key in _TARGET_FILES:
            path = Path(getattr(self, key)).expanduser()
            force_setattr(self, key, path if path.is_absolute() else workdir / path)
        files = tuple(workdir / Path(p).expanduser() for p in self.logs.files)
        if files != self.logs.files:
            force_setattr(self, "logs", msgspec.structs.replace(self.logs, files=files))

    def instance_key(self) -> str:
        """One Remi: its real workdir + command (or unit / label); names the singleton lock."""
        what = ("\0".join(self.command) if self.manager == "process"
                else f"{self.manager}:{self.unit or self.label}")
        if self.manager == "kubernetes":
            what = (f"kubernetes:{self.context}/{self.namespace}/"
                    f"{self.deployment or self.statefulset}")
        return f"{os.path.realpath(self.workdir)}\0{what}"

    def _manager_needs(self) -> None:
        if self.manager == "process" and not self.command:
            raise ValueError("command: required when manager is 'process'")
        if self.manager == "systemd" and not self.unit:
            raise ValueError("unit: required when manager is 'systemd'")
        if self.manager == "launchd" and not self.label:
            raise ValueError("label: required when manager is 'launchd'")
        if self.manager == "kubernetes":
            if not self.namespace or not self.container:
                raise ValueError("namespace and container: required when manager is "
                                 "'kubernetes'")
            if bool(self.deployment) == bool(self.statefulset):
                raise ValueError("deployment or statefulset (one of them): required when "
                                 "manager is 'kubernetes'")


class AlertSettings(SettingsModel, frozen=True, kw_only=True):
    """``[alerts]``: Alertmanager-style lifecycle tuning."""

    #: a condition must hold this many consecutive checks before the alert fires
    for_checks: Annotated[int, count(1, 1000)] = 1
    group_wait_s: Annotated[float, seconds(0, DAY, low_open=False)] = 30.0
    group_interval_s: Annotated[float, seconds(0, DAY, low_open=False)] = 300.0
    repeat_interval_s: Annotated[float, seconds(0, MAX_WINDOW_S)] = 4 * 3600.0
    #: healthy this long before an alert resolves (against flapping and false resolutions)
    keep_firing_for_s: Annotated[float, seconds(0, DAY, low_open=False)] = 120.0
    flap_changes: Annotated[int, count(1, 1000)] = 4
    flap_window_s: Annotated[float, seconds(0, MAX_WINDOW_S)] = 900.0
    silence_max_s: Annotated[float, seconds(0, MAX_WINDOW_S)] = 7 * 86400.0
    #: per-sink delivery retry backoff
    retry_initial_s: Annotated[float, seconds(0, HOUR)] = 2.0
    retry_max_s: Annotated[float, seconds(0, DAY)] = 300.0


class DiscordSettings(SettingsModel, frozen=True, kw_only=True):
    """``[discord]``: where Bubabot lives and who may do what. The token is ``DISCORD_TOKEN``."""

    guild_id: Snowflake = 0
    alert_channel_id: Snowflake = 0
    operator_role_ids: tuple[Snowflake, ...] = ()
    #: empty means every member of the guild may use the read-only commands
    viewer_role_ids: tuple[Snowflake, ...] = ()
    oncall_role_id: Snowflake | None = None
    #: empty means any channel of the guild
    allowed_channel_ids: tuple[Snowflake, ...] = ()
    #: at most 15 min: the asking interaction's token (which edits the expired question) dies then
    confirm_timeout_s: Annotated[float, seconds(0, 15 * 60)] = 300.0


class Settings(SettingsModel, frozen=True, kw_only=True):
    """The whole configuration."""

    watchdog: WatchdogSettings = WatchdogSettings()
    targets: tuple[TargetSettings, ...]
    alerts: AlertSettings = AlertSettings()
    discord: DiscordSettings = DiscordSettings()
    metrics: MetricsSettings = MetricsSettings()
    alertmanager: AlertmanagerSettings = AlertmanagerSettings()

    @classmethod
    def short_forms(cls, data: Any) -> Any:
        """Each target's short forms (:meth:`TargetSettings.short_forms`) written out."""
        if isinstance(data, dict) and isinstance(data.get("targets"), list | tuple):
            return {**data, "targets": [TargetSettings.short_forms(t) for t in data["targets"]]}
        return data

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.targets:
            raise ValueError("targets: at least one [[targets]] table is required")
        names = [t.name for t in self.targets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"target names must be unique (repeated: {', '.join(dupes)})")
        first: dict[str, str] = {}
        for t in self.targets:
            other = first.setdefault(t.instance_key(), t.name)
            if other != t.name:
                raise ValueError(f"targets[{t.name}].workdir: the same workdir and command as "
                                 f"targets[{other}]; one Remi per workdir and command")

    def target(self, name: str | None) -> TargetSettings:
        """The named target, or the first when ``name`` is None."""
        from remi_ops.exceptions import UnknownTarget  # noqa: PLC0415 - avoid a cycle in docs

        if name is None:
            return self.targets[0]
        for target in self.targets:
            if target.name == name:
                return target
        raise UnknownTarget(name, [t.name for t in self.targets])

    @property
    def state_dir(self) -> Path:
        return self.watchdog.state_dir
