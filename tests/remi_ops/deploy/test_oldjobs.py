"""Finding the old watchdog job (launchd or systemd) of the same Remi, and retiring it."""

from __future__ import annotations

import plistlib
from pathlib import Path
from typing import Any

from remi_ops.deploy.oldjobs import OldJob, SearchPlaces, find_old_jobs, retire_steps


def places(tmp_path: Path) -> SearchPlaces:
    return SearchPlaces.for_home(tmp_path / "home", system=False)


def agents(tmp_path: Path) -> Path:
    folder = tmp_path / "home" / "Library" / "LaunchAgents"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def user_units(tmp_path: Path) -> Path:
    folder = tmp_path / "home" / ".config" / "systemd" / "user"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def plist(tmp_path: Path, name: str, job: dict[str, Any]) -> Path:
    path = agents(tmp_path) / f"{name}.plist"
    path.write_bytes(plistlib.dumps({"Label": name, **job}))
    return path


def remi(tmp_path: Path) -> Path:
    workdir = tmp_path / "home" / "projects" / "remix-sniper"
    (workdir / "scripts").mkdir(parents=True, exist_ok=True)
    return workdir


def test_the_operators_com_remi_watchdog_is_found(tmp_path: Path) -> None:
    """The seed's job: label com.remi.watchdog, running watchdog.sh every 60 s."""
    workdir = remi(tmp_path)
    path = plist(tmp_path, "com.remi.watchdog", {
        "ProgramArguments": [str(workdir / "scripts" / "watchdog.sh")], "StartInterval": 60})
    [job] = find_old_jobs(places(tmp_path), [workdir])
    assert (job.manager, job.name, job.path, job.system) == (
        "launchd", "com.remi.watchdog", path, False)


def test_a_job_under_another_label_running_a_watchdog_of_this_remi_is_found(
        tmp_path: Path) -> None:
    workdir = remi(tmp_path)
    plist(tmp_path, "local.mybot.keepup", {
        "ProgramArguments": ["/bin/bash", "-c", "cd ~/projects/remix-sniper && "
                             "scripts/watchdog.sh"],
        "WorkingDirectory": str(workdir)})
    [job] = find_old_jobs(places(tmp_path), [workdir])
    assert job.name == "local.mybot.keepup"
    assert "watchdog.sh" in job.why and str(workdir.resolve()) in job.why


def test_a_watchdog_of_another_project_and_our_own_jobs_are_left_alone(
        tmp_path: Path) -> None:
    workdir = remi(tmp_path)
    other = tmp_path / "home" / "projects" / "other-bot"
    plist(tmp_path, "com.other.watchdog", {
        "ProgramArguments": [str(other / "watchdog.sh")]})
    plist(tmp_path, "com.bubabot.watch", {
        "ProgramArguments": ["python", "-m", "remi_ops.cli.main", "watch"],
        "WorkingDirectory": str(workdir)})
    (agents(tmp_path) / "broken.plist").write_text("<plist><dict><key>", encoding="utf-8")
    (agents(tmp_path) / "empty.plist").write_bytes(b"")
    assert find_old_jobs(places(tmp_path), [workdir]) == []


def test_a_systemd_unit_running_a_watchdog_script_of_this_remi_is_found(
        tmp_path: Path) -> None:
    workdir = remi(tmp_path)
    unit = user_units(tmp_path) / "remi-watchdog.service"
    unit.write_text("[Service]\nWorkingDirectory=%h/projects/remix-sniper\n"
                    "ExecStart=/bin/bash scripts/watchdog.sh\n", encoding="utf-8")
    (user_units(tmp_path) / "unrelated.service").write_text(
        "[Service]\nExecStart=/usr/bin/sleep 1\n", encoding="utf-8")
    [job] = find_old_jobs(places(tmp_path), [workdir])
    assert (job.manager, job.name, job.path) == ("systemd", "remi-watchdog.service", unit)
    assert job.program == ("/bin/bash", "scripts/watchdog.sh")


def test_retiring_a_launch_agent_boots_it_out_and_moves_its_plist_away(
        tmp_path: Path) -> None:
    path = tmp_path / "home/Library/LaunchAgents/com.remi.watchdog.plist"
    job = OldJob("launchd", "com.remi.watchdog", path, False, (), "")
    bootout, move = retire_steps(job, 501, tmp_path / "home")
    assert bootout.argv == ("launchctl", "bootout", "gui/501/com.remi.watchdog")
    assert bootout.shown == "launchctl bootout gui/501/com.remi.watchdog"
    assert move.move_from == path
    assert move.move_to == tmp_path / "home/.config/bubabot/retired/com.remi.watchdog.plist"
    assert move.shown.endswith(f"mv {path} {move.move_to}")


def test_retiring_system_jobs_shows_sudo(tmp_path: Path) -> None:
    daemon = OldJob("launchd", "com.remi.watchdog",
                    Path("/Library/LaunchDaemons/com.remi.watchdog.plist"), True, (), "")
    assert retire_steps(daemon, 501, tmp_path)[0].shown == \
        "sudo launchctl bootout system/com.remi.watchdog"
    unit = OldJob("systemd", "remi-watchdog.service", Path("/etc/x"), True, (), "")
    [step] = retire_steps(unit, 501, tmp_path)
    assert step.argv == ("systemctl", "disable", "--now", "remi-watchdog.service")
    assert step.shown == "sudo systemctl disable --now remi-watchdog.service"
    user = OldJob("systemd", "remi-watchdog.service", Path("/x"), False, (), "")
    assert retire_steps(user, 501, tmp_path)[0].argv == (
        "systemctl", "--user", "disable", "--now", "remi-watchdog.service")
