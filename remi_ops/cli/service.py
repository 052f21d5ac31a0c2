"""``remi-ops service print|install|uninstall|status``: Bubabot as a launchd or systemd job.

``print`` shows the file; ``install`` retires (or names) the old watchdog job, writes the
env file (``0600``, empty) if there is none, writes the file and loads it; ``uninstall``
unloads and removes it (Remi keeps running: the watcher never stops it on its way out);
``status`` exits 0 only when the service is installed and running. The manager commands
themselves run in :mod:`remi_ops.host.servicectl`; the files come from
:mod:`remi_ops.deploy`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from remi_ops.cli.common import EXIT_OK, exit_code, print_json, print_lines
from remi_ops.config import Settings
from remi_ops.config_file import find_config, no_config_found
from remi_ops.deploy.oldjobs import OldJob, SearchPlaces, find_old_jobs, retire_steps
from remi_ops.deploy.paths import ServiceSpec, default_manager
from remi_ops.deploy.units import launchd_note, render
from remi_ops.exceptions import RemiOpsError
from remi_ops.host import servicectl
from remi_ops.host.servicectl import CtlOutcome, run_ctl

#: the env file as install writes it when there is none: comments only
ENV_TEMPLATE = ("# Secrets for Bubabot's service: KEY=value lines. Keep this file chmod 600.\n"
                "# DISCORD_TOKEN=...\n# DISCORD_WEBHOOK_URL=...\n")


def cmd_service(settings: Settings, args: argparse.Namespace) -> int:
    spec = service_spec(args)
    action: str = args.service_action
    if action == "print":
        print(render(spec), end="")
        return EXIT_OK
    if action == "install":
        return install(settings, spec, replace_old=args.replace_old)
    if action == "uninstall":
        return uninstall(spec)
    return status(settings, spec, as_json=args.json)


def service_spec(args: argparse.Namespace) -> ServiceSpec:
    """The service the arguments ask for, with this interpreter and this configuration."""
    found = find_config(args.config, os.environ, Path.cwd())
    if found is None:  # main loads the same file first; this is for direct callers
        raise no_config_found(os.environ, Path.cwd())
    user = servicectl.current_user()
    return ServiceSpec(manager=args.manager or default_manager(),
                       config=Path(found).expanduser().absolute(), python=sys.executable,
                       home=servicectl.home_of(user) if args.system else Path.home(),
                       user=user, uid=servicectl.current_uid(), search_path=_search_path(),
                       bot=args.bot, system=args.system)


def _search_path() -> str:
    """This interpreter's folder first (its scripts, py-spy), then the operator's PATH."""
    parts = [str(Path(sys.executable).parent), *os.environ.get("PATH", "").split(os.pathsep)]
    return os.pathsep.join(dict.fromkeys(p for p in parts if p))


# --------------------------------------------------------------------------- install


def install(settings: Settings, spec: ServiceSpec, *, replace_old: bool) -> int:
    ok = _handle_old_jobs(settings, spec, replace_old=replace_old)
    ok = _ensure_env_file(spec) and ok
    previous = _read(spec.file)
    text = render(spec)
    _write(spec.file, text)
    if spec.manager == "launchd":
        spec.log_dir.mkdir(parents=True, exist_ok=True)  # launchd does not create it
    print(f"wrote {spec.file}")
    for outcome in _load(spec, changed=previous not in (None, text)):
        print(f"  {outcome.summary()}")
        ok = ok and outcome.ok
    print_lines(_scope_notes(spec))
    return exit_code(ok)


def _handle_old_jobs(settings: Settings, spec: ServiceSpec, *, replace_old: bool) -> bool:
    """Name (or, with ``replace_old``, retire) every old watchdog job; False if one stays."""
    ok = True
    for job in _old_jobs(settings, spec):
        print(f"old watchdog job: {job.name} ({job.path}): {job.why}")
        if not replace_old:
            print("  it would keep starting Remi on its own; retire it with:")
            print_lines(f"    {step.shown}" for step in retire_steps(job, spec.uid, spec.home))
            print("  (or run `remi-ops service install --replace-old`)")
            continue
        if job.system and not servicectl.is_root():
            print("  it is system-wide: run these with sudo (or this install under sudo):")
            print_lines(f"    {step.shown}" for step in retire_steps(job, spec.uid, spec.home))
            ok = False
            continue
        ok = _retire(job, spec) and ok
    return ok


def _retire(job: OldJob, spec: ServiceSpec) -> bool:
    ok = True
    for step in retire_steps(job, spec.uid, spec.home):
        if step.argv:  # a job that is not loaded fails to unload: the move still matters
            print(f"  {run_ctl(step.argv).summary()}")
        elif step.move_from is not None and step.move_to is not None:
            try:
                step.move_to.parent.mkdir(parents=True, exist_ok=True)
                step.move_from.replace(step.move_to)
                print(f"  moved {step.move_from} to {step.move_to}")
            except OSError as exc:
                print(f"  could not move {step.move_from}: {exc.strerror or exc}")
                ok = False
    return ok


def _old_jobs(settings: Settings, spec: ServiceSpec) -> list[OldJob]:
    places = SearchPlaces.for_home(spec.home)
    return find_old_jobs(places, [t.workdir for t in settings.targets])


def _ensure_env_file(spec: ServiceSpec) -> bool:
    """An empty ``0600`` env file, so the service starts; False when the one there is open."""
    file = spec.env_file
    if file.exists():
        if file.stat().st_mode & 0o077:
            print(f"{file} is readable by others: chmod 600 {file} (the service refuses it)")
            return False
        return True
    if spec.system:  # made under sudo, root would own it and the service (run as you) not
        print(f"no {file}: create it as {spec.user} with mode 600 for the secrets")
        return True
    file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(ENV_TEMPLATE)
    print(f"wrote {file} (mode 600): put DISCORD_TOKEN / DISCORD_WEBHOOK_URL there")
    return True


def _write(path: Path, text: str) -> None:
    from remi_ops.atomicfile import write_atomically  # noqa: PLC0415 - only install writes

    try:
        write_atomically(path, text)
        path.chmod(0o644)
    except OSError as exc:
        hint = " (a system-wide service is installed with sudo)" if isinstance(
            exc, PermissionError) else ""
        raise RemiOpsError(f"cannot write {path}: {exc.strerror or exc}{hint}") from None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _load(spec: ServiceSpec, *, changed: bool) -> list[CtlOutcome]:
    """Load the (new) file: launchd reads a plist only when bootstrapped, so a loaded job
    is booted out first; systemd re-reads units on daemon-reload, then (re)starts it."""
    if spec.manager == "launchd":
        service = f"{spec.launchd_domain}/{spec.name}"
        done = []
        if run_ctl(["launchctl", "print", service]).ok:
            done.append(run_ctl(["launchctl", "bootout", service]))
        return [*done, run_ctl(["launchctl", "bootstrap", spec.launchd_domain,
                                str(spec.file)])]
    ctl = _systemctl(spec)
    done = [run_ctl([*ctl, "daemon-reload"]), run_ctl([*ctl, "enable", "--now", spec.name])]
    if changed:  # enable --now leaves a running unit on its old ExecStart
        done.append(run_ctl([*ctl, "restart", spec.name]))
    return done


def _systemctl(spec: ServiceSpec) -> list[str]:
    return ["systemctl"] if spec.system else ["systemctl", "--user"]


def _scope_notes(spec: ServiceSpec) -> list[str]:
    if spec.manager == "launchd":
        return launchd_note(spec)
    if spec.system:
        return [f"{spec.name}: a system unit, started at boot as {spec.user}; logs: "
                f"journalctl -u {spec.name}"]
    return [f"{spec.name}: a user unit - it runs while {spec.user} is logged in. For start "
            f"at boot and after logout: loginctl enable-linger {spec.user}",
            f"logs: journalctl --user -u {spec.name}"]


# --------------------------------------------------------------------------- uninstall


def uninstall(spec: ServiceSpec) -> int:
    """Unload and remove; nothing there is not an error (it is what was asked)."""
    state = manager_state(spec)
    if not spec.file.exists() and not state["loaded"]:
        print(f"{spec.name}: not installed (no {spec.file})")
        return EXIT_OK
    if spec.manager == "launchd":
        unload = run_ctl(["launchctl", "bootout", f"{spec.launchd_domain}/{spec.name}"])
    else:
        unload = run_ctl([*_systemctl(spec), "disable", "--now", spec.name])
    print(f"  {unload.summary()}")
    ok = unload.ok or not state["loaded"]
    try:
        spec.file.unlink(missing_ok=True)
        print(f"removed {spec.file}")
    except OSError as exc:
        print(f"could not remove {spec.file}: {exc.strerror or exc}")
        ok = False
    if spec.manager == "systemd":
        print(f"  {run_ctl([*_systemctl(spec), 'daemon-reload']).summary()}")
    print("Remi keeps running; `remi-ops stop` stops it.")
    return exit_code(ok)


# --------------------------------------------------------------------------- status


def manager_state(spec: ServiceSpec) -> dict[str, Any]:
    """What the manager says: loaded, running, pid, and its own words (state)."""
    from remi_ops.host.service_status import (  # noqa: PLC0415 - parsers only status needs
        parse_launchctl_print,
        parse_systemctl_show,
    )

    if spec.manager == "launchd":
        out = run_ctl(["launchctl", "print", f"{spec.launchd_domain}/{spec.name}"])
        job = parse_launchctl_print(out.output) if out.ok else None
        return {"loaded": out.ok, "running": bool(job and job.state == "running"),
                "pid": job.pid if job else None,
                "state": job.state if job else (out.problem or "not loaded")}
    out = run_ctl([*_systemctl(spec), "show", spec.name,
                   "--property=LoadState,ActiveState,SubState,MainPID"])
    unit = parse_systemctl_show(out.output)
    load_state = dict(line.split("=", 1) for line in out.output.splitlines() if "=" in line) \
        .get("LoadState", "")
    return {"loaded": out.ok and load_state == "loaded",
            "running": out.ok and unit.active_state == "active",
            "pid": unit.main_pid or None,
            "state": f"{unit.active_state} ({unit.sub_state})" if out.ok else
            (out.problem or out.summary())}


def status(settings: Settings, spec: ServiceSpec, *, as_json: bool) -> int:
    state = manager_state(spec)
    old = _old_jobs(settings, spec)
    doc = {"name": spec.name, "manager": spec.manager, "system": spec.system,
           "file": str(spec.file), "installed": spec.file.is_file(), **state,
           "old_jobs": [{"name": j.name, "path": str(j.path), "why": j.why} for j in old]}
    if as_json:
        print_json(doc)
    else:
        where = f"installed at {spec.file}" if doc["installed"] else \
            f"NOT installed (no {spec.file})"
        running = f"running (pid {state['pid']})" if state["running"] else \
            f"NOT running ({state['state']})"
        print(f"{spec.name} ({spec.manager}): {where}; {running}")
        for job in old:
            print(f"old watchdog job still present: {job.name} ({job.path}): {job.why}")
            print_lines(f"  retire: {s.shown}" for s in retire_steps(job, spec.uid, spec.home))
    return exit_code(bool(doc["installed"] and state["running"]))
