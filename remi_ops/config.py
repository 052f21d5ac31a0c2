"""Typed, frozen settings loaded from TOML; secrets only from the environment.

Every problem is reported as ``path.to.field: problem``; the CLIs turn a ``ConfigError``
into those lines on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from remi_ops.config_bounds import DAY, HOUR, MAX_SNOWFLAKE, MAX_WINDOW_S, amount, count, seconds
from remi_ops.exceptions import ConfigError

ENV_CONFIG = "BUBABOT_CONFIG"
DEFAULT_CONFIG = Path("config/bubabot.toml")
PYTHON_PLACEHOLDER = "{python}"

#: a process exit status (what ``exit(n)`` can return)
ExitCode = Annotated[int, count(0, 255)]
Snowflake = Annotated[int, count(0, MAX_SNOWFLAKE)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class WatchdogSettings(_Model):
    """``[watchdog]``: the watcher itself."""

    check_interval_s: Annotated[float, seconds(0, HOUR)] = 60.0
    state_dir: Path = Path("~/.local/state/bubabot")
    #: seconds after which the watcher's own heartbeat in .bot_health is considered stale
    heartbeat_stale_s: Annotated[float, seconds(0, DAY)] = 180.0

    @model_validator(mode="after")
    def _heartbeat_outlives_a_check(self) -> WatchdogSettings:
        if self.heartbeat_stale_s <= self.check_interval_s:  # refreshed once per check
            raise ValueError("heartbeat_stale_s: must be more than check_interval_s")
        return self


class RestartPolicy(_Model):
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

    @model_validator(mode="after")
    def _cap_above_initial(self) -> RestartPolicy:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be >= backoff_initial_s")
        return self


class HealthSettings(_Model):
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


class ScanTestSettings(_Model):
    """``[targets.scan_test]``: the out-of-band ``/scan`` smoke test."""

    command: tuple[str, ...] = ()
    timeout_s: Annotated[float, seconds(0, HOUR)] = 120.0
    expect_exit_code: ExitCode = 0
    #: a regular expression the output must match (searched), if set
    expect_pattern: str = ""
    latency_budget_s: Annotated[float, seconds(0, HOUR)] = 30.0
    #: run it by itself after every restart and when Remi's code changes
    after_restart: bool = True

    @field_validator("expect_pattern")
    @classmethod
    def _valid_regex(cls, value: str) -> str:
        import re  # noqa: PLC0415 - only needed to validate

        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from exc
        return value


Manager = Literal["process", "systemd", "launchd"]
_TARGET_FILES = ("stdout_log", "stderr_log", "health_file", "alert_file", "beacon_file")


class TargetSettings(_Model):
    """``[[targets]]``: one bot to keep alive."""

    name: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    workdir: Path
    command: tuple[str, ...] = ()
    env: Mapping[str, str] = Field(default_factory=dict)
    #: names of Bubabot's environment variables Remi (and its scan test) may see; the rest
    #: of Bubabot's environment, its DISCORD_TOKEN above all, never reaches Remi
    pass_env: tuple[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], ...] = ()
    stdout_log: Path = Path("bot.log")
    stderr_log: Path = Path("bot_error.log")
    #: more logs Remi writes itself (a ``logging.FileHandler``, like discord.py's
    #: ``discord.log``), relative to workdir; stdout_log/stderr_log are always watched
    logs: tuple[Path, ...] = ()
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

    @model_validator(mode="before")
    @classmethod
    def _resolve_paths(cls, data: Any) -> Any:
        """Expand ``~`` and resolve every file path (defaults included) against ``workdir``."""
        if not isinstance(data, dict) or not isinstance(data.get("workdir"), str | Path):
            return data
        data = dict(data)
        workdir = Path(str(data["workdir"])).expanduser()
        data["workdir"] = workdir
        for key in _TARGET_FILES:
            value = data.get(key, cls.model_fields[key].default)
            if isinstance(value, str | Path):
                path = Path(str(value)).expanduser()
                data[key] = path if path.is_absolute() else workdir / path
        if isinstance(data.get("logs"), list | tuple):
            data["logs"] = [workdir / Path(str(p)).expanduser()
                            if isinstance(p, str | Path) else p for p in data["logs"]]
        return data

    def instance_key(self) -> str:
        """One Remi: its real workdir + command (or unit / label); names the singleton lock."""
        what = ("\0".join(self.command) if self.manager == "process"
                else f"{self.manager}:{self.unit or self.label}")
        return f"{os.path.realpath(self.workdir)}\0{what}"

    @model_validator(mode="after")
    def _manager_needs(self) -> TargetSettings:
        if self.manager == "process" and not self.command:
            raise ValueError("command: required when manager is 'process'")
        if self.manager == "systemd" and not self.unit:
            raise ValueError("unit: required when manager is 'systemd'")
        if self.manager == "launchd" and not self.label:
            raise ValueError("label: required when manager is 'launchd'")
        return self


class AlertSettings(_Model):
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


class DiscordSettings(_Model):
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


class Settings(_Model):
    """The whole configuration."""

    watchdog: WatchdogSettings = WatchdogSettings()
    targets: tuple[TargetSettings, ...]
    alerts: AlertSettings = AlertSettings()
    discord: DiscordSettings = DiscordSettings()

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
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
        return self

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


# --------------------------------------------------------------------------- loading


def _expand(value: str, base: Path | None) -> Path:
    path = Path(value).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    return path


def _resolve_paths(raw: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Expand ``~``, resolve relative paths (watchdog against the file, targets against workdir)."""
    wd = raw.get("watchdog")
    if isinstance(wd, dict) and isinstance(wd.get("state_dir"), str):
        wd["state_dir"] = _expand(wd["state_dir"], base_dir)
    for target in raw.get("targets") or []:
        if not isinstance(target, dict):
            continue
        if isinstance(target.get("workdir"), str):
            target["workdir"] = _expand(target["workdir"], base_dir)
        if isinstance(target.get("command"), list):
            target["command"] = [sys.executable if a == PYTHON_PLACEHOLDER else a
                                 for a in target["command"]]
        scan = target.get("scan_test")
        if isinstance(scan, dict) and isinstance(scan.get("command"), list):
            scan["command"] = [sys.executable if a == PYTHON_PLACEHOLDER else a
                               for a in scan["command"]]
    return raw


def _format_errors(exc: ValidationError, raw: Mapping[str, Any]) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        # name targets by their name when they have one: targets[remi].restart.backoff_max_s
        if len(loc) >= 2 and loc[0] == "targets" and isinstance(loc[1], int):
            targets = raw.get("targets") or []
            name = targets[loc[1]].get("name") if loc[1] < len(targets) and isinstance(
                targets[loc[1]], dict) else None
            loc[1] = f"[{name}]" if isinstance(name, str) else f"[{loc[1]}]"
        path = ".".join(str(p) for p in loc).replace(".[", "[")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required"
        if msg.startswith("Value error, "):
            msg = msg.removeprefix("Value error, ")
            if ":" in msg and " " not in msg.split(":", 1)[0]:
                field, _, rest = msg.partition(":")
                path, msg = (f"{path}.{field}" if path else field), rest.strip()
        lines.append(f"{path or '(file)'}: {msg}")
    return lines


def parse_settings(raw: Mapping[str, Any], *, base_dir: Path, source: str = "") -> Settings:
    """Validate an already-parsed TOML document."""
    if "token" in str(list(_walk_keys(raw))).lower():
        raise ConfigError([f"{k}: secrets come from the environment (DISCORD_TOKEN), "
                           "never the config file" for k in _walk_keys(raw)
                           if "token" in k.rsplit(".", 1)[-1].lower()], source)
    data = _resolve_paths(_deepcopy(raw), base_dir)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, raw), source) from None


def load_settings(path: Path) -> Settings:
    """Read and validate a TOML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror})"], str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"], str(path)) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML ({exc})"], str(path)) from None
    return parse_settings(raw, base_dir=path.parent.resolve(), source=str(path))


def find_config(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str],
                cwd: Path) -> Path | None:
    """``--config``, else ``$BUBABOT_CONFIG``, else ``config/bubabot.toml``, else None (local)."""
    if explicit:
        return Path(explicit)
    if environ.get(ENV_CONFIG):
        return Path(environ[ENV_CONFIG])
    candidate = cwd / DEFAULT_CONFIG
    return candidate if candidate.is_file() else None


def _walk_keys(raw: Any, prefix: str = "") -> list[str]:
    keys: list[str] = []
    if isinstance(raw, Mapping):
        for k, v in raw.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if k != "env":  # a target's env table may legitimately name token variables
                keys.append(path)
                keys.extend(_walk_keys(v, path))
    elif isinstance(raw, list):
        for i, v in enumerate(raw):
            keys.extend(_walk_keys(v, f"{prefix}[{i}]"))
    return keys


def _deepcopy(raw: Any) -> Any:
    if isinstance(raw, Mapping):
        return {k: _deepcopy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_deepcopy(v) for v in raw]
    return raw
