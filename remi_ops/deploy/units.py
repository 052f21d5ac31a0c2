"""The launchd plist and the systemd unit, as text, and the argv both run.

The argv is ``<this interpreter> -m remi_ops.cli.main`` (or ``-m bubabot``), not the
``remi-ops`` script: the interpreter running ``service install`` is the one that has
remi_ops importable, wherever pip put the scripts (a venv's ``bin/``, ``~/.local/bin``,
pipx), so the service cannot pick up another installation from PATH. ``sys.executable``
is kept as it is (not resolved): a venv's ``python`` is a symlink, and resolving it would
leave the venv.
"""

from __future__ import annotations

from typing import Any

from remi_ops.deploy.paths import ServiceSpec

#: seconds launchd waits before starting the job again after it exits (its own default)
THROTTLE_INTERVAL_S = 10
#: seconds systemd waits before a restart
RESTART_SEC = 5
#: launchd's ``Interactive``: the resource limits of an app, i.e. none; ``Background`` and
#: ``Adaptive`` jobs are throttled (CPU, I/O, timer coalescing), which would stretch the
#: watcher's checks and its measure of Remi's loop lag when nobody is at the Mac
PROCESS_TYPE = "Interactive"


def program_argv(spec: ServiceSpec) -> list[str]:
    """What the service runs: the watcher (or the bot) with this configuration.

    launchd has no ``EnvironmentFile``, so there the program reads the env file itself
    (``--env-file``); systemd reads it into the environment before starting the program.
    """
    module = "bubabot" if spec.bot else "remi_ops.cli.main"
    argv = [spec.python, "-m", module, "--config", str(spec.config)]
    if spec.manager == "launchd":
        # launchd never rotates StandardOutPath/StandardErrorPath: the log goes to a file
        # the program rotates itself (those two then get warnings and notifications only);
        # systemd's journal rotates what it is given
        argv += ["--env-file", str(spec.env_file),
                 "--log-file", str(spec.log_dir / f"{spec.role}.log")]
    return argv if spec.bot else [*argv, "watch"]


def service_environment(spec: ServiceSpec) -> dict[str, str]:
    """The variables the service file sets: PATH and the config path, never a secret."""
    return {"PATH": spec.search_path, "BUBABOT_CONFIG": str(spec.config)}


# --------------------------------------------------------------------------- launchd


def launchd_plist(spec: ServiceSpec) -> str:
    """The LaunchAgent (or, with ``system``, LaunchDaemon) plist, with a comment on top."""
    job: dict[str, Any] = {
        "Label": spec.name,
        "ProgramArguments": program_argv(spec),
        # always: a watchdog that exits for any reason (a crash, a config error being fixed)
        # comes back; `remi-ops service uninstall` (bootout) is how it is stopped for good
        "KeepAlive": True,
        "RunAtLoad": True,
        "ProcessType": PROCESS_TYPE,
        "ThrottleInterval": THROTTLE_INTERVAL_S,
        "WorkingDirectory": str(spec.workdir),
        "EnvironmentVariables": service_environment(spec),
        "StandardOutPath": str(spec.log_dir / f"{spec.role}.out.log"),
        "StandardErrorPath": str(spec.log_dir / f"{spec.role}.err.log"),
    }
    if spec.system:
        job["UserName"] = spec.user
    import plistlib  # noqa: PLC0415 - here: plistlib, expat cost RSS in every `remi-ops watch`

    text = plistlib.dumps(job, sort_keys=False).decode("utf-8")
    head, sep, rest = text.partition("<plist")
    return f"{head}{_xml_comment(_plist_comment(spec))}\n{sep}{rest}"


def launchd_note(spec: ServiceSpec) -> list[str]:
    """What kind of job this is, in words (also printed by ``service print``)."""
    if spec.system:
        return [f"{spec.name}: a LaunchDaemon - starts at boot, runs as {spec.user}.",
                f"Load: sudo launchctl bootstrap system {spec.file}",
                f"Unload: sudo launchctl bootout system/{spec.name}"]
    return [f"{spec.name}: a LaunchAgent - it starts when {spec.user} logs in, not at boot.",
            "For start at boot use the LaunchDaemon: remi-ops service print --system "
            "(/Library/LaunchDaemons, UserName, the system domain).",
            f"Load: launchctl bootstrap gui/{spec.uid} {spec.file}",
            f"Unload: launchctl bootout gui/{spec.uid}/{spec.name}",
            f"Secrets: {spec.env_file} (chmod 600), read with --env-file; never in this file."]


def _plist_comment(spec: ServiceSpec) -> list[str]:
    """The note in the file itself (an XML comment may not hold a double hyphen)."""
    if spec.system:
        return [f"{spec.name}: a LaunchDaemon. It starts at boot and runs as {spec.user}."]
    return [f"{spec.name}: a LaunchAgent. It starts when {spec.user} logs in, NOT at boot.",
            "For start at boot, the LaunchDaemon variant (/Library/LaunchDaemons, UserName,",
            "the system domain): `remi-ops service print` or `install` with the system flag.",
            f"Secrets are not in this file: {spec.env_file} (chmod 600) is read by the",
            "program itself (its env-file option)."]


def _xml_comment(lines: list[str]) -> str:
    body = "\n".join(f"  {line.replace('--', '- -')}" for line in lines)  # a path may
    return f"<!--\n{body}\n-->"


# --------------------------------------------------------------------------- systemd


def systemd_unit(spec: ServiceSpec) -> str:
    """The unit file: user scope (``~/.config/systemd/user``) or, with ``system``, system."""
    what = "Bubabot (the Discord bot)" if spec.bot else "Bubabot's watcher (remi-ops watch)"
    env_file = str(spec.env_file) if spec.system else "%h/.config/bubabot/env"
    lines = [f"# {spec.name}: written by `remi-ops service install`.", *_scope_note(spec),
             "", "[Unit]", f"Description={what}: supervises Remi",
             "# never give up restarting (the default stops after 5 starts in 10 s)",
             "StartLimitIntervalSec=0"]
    if spec.system:  # a user manager cannot order itself after the system's network
        lines += ["Wants=network-online.target", "After=network-online.target"]
    lines += ["", "[Service]", "Type=simple",
              f"ExecStart={' '.join(systemd_quote(a) for a in program_argv(spec))}",
              # a path setting: taken whole (spaces and all), only specifiers expanded
              f"WorkingDirectory={str(spec.workdir).replace('%', '%%')}"]
    lines += [f"Environment={systemd_quote(f'{k}={v}')}"
              for k, v in service_environment(spec).items()]
    lines += ["# secrets (DISCORD_TOKEN, DISCORD_WEBHOOK_URL): chmod 600; '-': may be absent",
              f"EnvironmentFile=-{env_file}",
              "Restart=always", f"RestartSec={RESTART_SEC}",
              "# KillMode=process: stopping or restarting this service stops only its main",
              "# process. Remi runs in this unit's control group (the watcher started it),",
              "# and the default (control-group) would kill Remi with every restart of the",
              "# watcher. Bubabot stops Remi itself, whole tree, when asked to; a new",
              "# watcher adopts the Remi that is still running instead of starting another.",
              "KillMode=process"]
    if spec.system:
        lines.append(f"User={spec.user}")
    lines += ["", "[Install]",
              f"WantedBy={'multi-user.target' if spec.system else 'default.target'}", ""]
    return "\n".join(lines)


def _scope_note(spec: ServiceSpec) -> list[str]:
    if spec.system:
        return [f"# A system unit: starts at boot and runs as {spec.user}.",
                f"# sudo systemctl daemon-reload && sudo systemctl enable --now {spec.name}"]
    return ["# A user unit: it runs while you are logged in. To start it at boot and keep",
            f"# it after you log out: loginctl enable-linger {spec.user}",
            f"# systemctl --user daemon-reload && systemctl --user enable --now {spec.name}"]


def systemd_quote(arg: str) -> str:
    """One word as systemd reads it: ``%`` and ``$`` doubled, quoted when needed."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if escaped and not any(c in escaped for c in " \t\"'\\;"):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(spec: ServiceSpec) -> str:
    """The file for the spec's manager."""
    return launchd_plist(spec) if spec.manager == "launchd" else systemd_unit(spec)

