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

from remi_ops.exceptions import ConfigError

ENV_CONFIG = "BUBABOT_CONFIG"
DEFAULT_CONFIG = Path("config/bubabot.toml")
PYTHON_PLACEHOLDER = "{python}"
#: Environment variables whose values are secrets, always redacted when present.
DEFAULT_SECRET_ENV = (
    "DISCORD_TOKEN",
    "REMI_DISCORD_TOKEN",
    "DISCORD_WEBHOOK_URL",
    "SOUNDCLOUD_CLIENT_ID",
    "SOUNDCLOUD_CLIENT_SECRET",
    "SOUNDCLOUD_OAUTH_TOKEN",
)

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
PositiveInt = Annotated[int, Field(gt=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class WatchdogSettings(_Model):
    """``[watchdog]``: the watcher itself."""

    check_interval_s: PositiveFloat = 60.0
    state_dir: Path = Path("~/.local/state/bubabot")
    #: seconds after which the watcher's own heartbeat in .bot_health is considered stale
    heartbeat_stale_s: PositiveFloat = 180.0


class RestartPolicy(_Model):
    """``[targets.restart]``: when and how fast to restart; never a storm, never silent."""

    enabled: bool = True
    #: the first restart after a crash that followed stable running waits at most this
    immediate_delay_s: NonNegFloat = 0.0
    backoff_initial_s: PositiveFloat = 1.0
    backoff_factor: float = Field(default=2.0, ge=1.0)
    backoff_max_s: PositiveFloat = 300.0
    #: jitter as a fraction of the delay (0.2 → ±20 %)
    jitter: float = Field(default=0.2, ge=0.0, le=1.0)
    #: uptime after which the backoff resets and a crash counts as "after stable running"
    stable_after_s: PositiveFloat = 600.0
    #: a process that dies within this many seconds of starting failed to start
    start_seconds: NonNegFloat = 1.0
    budget_restarts: PositiveInt = 5
    budget_window_s: PositiveFloat = 900.0
    #: once the budget is spent: escalate, then retry this slowly instead of looping hot
    gave_up_retry_s: PositiveFloat = 1800.0
    #: exit codes restarting cannot fix (a bad token, say): escalate to a human instead
    no_restart_exit_codes: tuple[int, ...] = (78,)
    #: TERM → this grace → KILL
    stop_grace_s: PositiveFloat = 10.0

    @model_validator(mode="after")
    def _cap_above_initial(self) -> RestartPolicy:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be >= backoff_initial_s")
        return self


class HealthSettings(_Model):
    """``[targets.health]``: thresholds for the checks."""

    cpu_percent_max: PositiveFloat = 90.0
    rss_mb_max: PositiveFloat = 1024.0
    #: a CPU/RSS threshold must be crossed for this many consecutive checks
    sustained_checks: PositiveInt = 3
    #: an event loop blocked this long is a hang: capture evidence, then restart
    hang_threshold_s: PositiveFloat = 60.0
    #: a beacon older than this means the loop is not running
    beacon_stale_s: PositiveFloat = 15.0
    #: this many error records in one check is a burst
    error_burst: PositiveInt = 10
    #: on first attach, read at most this much of the end of an existing log
    initial_read_bytes: PositiveInt = 4 * 1024 * 1024


class ScanTestSettings(_Model):
    """``[targets.scan_test]``: the out-of-band ``/scan`` smoke test."""

    command: tuple[str, ...] = ()
    timeout_s: PositiveFloat = 120.0
    expect_exit_code: int = 0
    #: a regular expression the output must match (searched), if set
    expect_pattern: str = ""
    latency_budget_s: PositiveFloat = 30.0
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
    #: extra environment variable names whose values are secrets to redact
    secret_env: tuple[str, ...] = ()
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
    for_checks: PositiveInt = 1
    group_wait_s: NonNegFloat = 30.0
    group_interval_s: NonNegFloat = 300.0
    repeat_interval_s: PositiveFloat = 4 * 3600.0
    #: healthy this long before an alert resolves (against flapping and false resolutions)
    keep_firing_for_s: NonNegFloat = 120.0
    flap_changes: PositiveInt = 4
    flap_window_s: PositiveFloat = 900.0
    silence_max_s: PositiveFloat = 7 * 86400.0
    #: per-sink delivery retry backoff
    retry_initial_s: PositiveFloat = 2.0
    retry_max_s: PositiveFloat = 300.0


class DiscordSettings(_Model):
    """``[discord]``: where Bubabot lives and who may do what. The token is ``DISCORD_TOKEN``."""

    guild_id: int = 0
    alert_channel_id: int = 0
    operator_role_ids: tuple[int, ...] = ()
    #: empty means every member of the guild may use the read-only commands
    viewer_role_ids: tuple[int, ...] = ()
    oncall_role_id: int | None = None
    #: empty means any channel of the guild
    allowed_channel_ids: tuple[int, ...] = ()
    confirm_timeout_s: PositiveFloat = 300.0


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


def secret_values(target: TargetSettings | None, environ: Mapping[str, str]) -> tuple[str, ...]:
    """The exact secret values to redact first: known secret env vars plus a target's own."""
    names = set(DEFAULT_SECRET_ENV)
    if target is not None:
        names.update(target.secret_env)
        names.update(k for k in target.env if _looks_secret(k))
    values = [environ.get(n, "") for n in names]
    if target is not None:
        values += [v for k, v in target.env.items() if _looks_secret(k)]
    return tuple(sorted({v for v in values if len(v) >= 6}, key=len, reverse=True))


def _looks_secret(name: str) -> bool:
    low = name.lower()
    return any(w in low for w in ("token", "secret", "password", "api_key", "apikey",
                                  "client_id", "webhook"))


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
