"""The old watchdog job to retire: ``com.remi.watchdog``, or any launchd/systemd job that
runs a watchdog script of the same Remi.

Remi's operator ran ``watchdog.sh`` from a LaunchAgent every 60 s. Left in place next to
the new service it would keep starting Remi on its own terms, so ``service install`` finds
it and says (or, with ``--replace-old``, does) exactly what retires it. A job is old when
its label is ``com.remi.watchdog``, or when a word of what it runs names a ``watchdog``
script inside the workdir of a configured target (``~/projects/remix-sniper/scripts/
watchdog.sh``). Our own ``com.bubabot.*`` jobs are never old.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remi_ops.deploy.paths import (
    LAUNCH_DAEMONS,
    SYSTEM_UNITS,
    Manager,
    retired_dir,
)
from remi_ops.deploy.unitfile import exec_start, working_directory

OLD_LABEL = "com.remi.watchdog"
#: a script whose file name holds this is a watchdog
WATCHDOG_WORD = "watchdog"
#: files larger than this are not service definitions
MAX_FILE_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class OldJob:
    """A job found in a launchd or systemd folder that does what the new service does."""

    manager: Manager
    name: str  # launchd label or systemd unit name
    path: Path  # its plist or unit file
    system: bool  # /Library/LaunchDaemons or /etc/systemd/system: root retires it
    program: tuple[str, ...]  # what it runs
    why: str  # why it counts as old, for the operator


@dataclass(frozen=True, slots=True)
class RetireStep:
    """One step retiring an old job: a command to run, or a file to move away."""

    argv: tuple[str, ...] = ()  # run this (without sudo; ``shown`` adds it for system jobs)
    move_from: Path | None = None
    move_to: Path | None = None
    shown: str = ""  # the exact command line a person would type


@dataclass(frozen=True, slots=True)
class SearchPlaces:
    """Where old jobs are looked for (tests point ``home`` elsewhere and drop the system)."""

    home: Path
    launchd_dirs: tuple[Path, ...]
    systemd_dirs: tuple[Path, ...]

    @classmethod
    def for_home(cls, home: Path, *, system: bool = True) -> SearchPlaces:
        agents = home / "Library" / "LaunchAgents"
        user_units = home / ".config" / "systemd" / "user"
        return cls(home, (agents, Path("/Library/LaunchAgents"), LAUNCH_DAEMONS)
                   if system else (agents,),
                   (user_units, SYSTEM_UNITS) if system else (user_units,))

    def is_system(self, path: Path) -> bool:
        return not path.is_relative_to(self.home)


def find_old_jobs(places: SearchPlaces, workdirs: Iterable[Path]) -> list[OldJob]:
    """Every old watchdog job in ``places``; unreadable files are skipped, never fatal."""
    roots = [_resolved(w) for w in workdirs]
    found: list[OldJob] = []
    for folder in places.launchd_dirs:
        for path in _files(folder, ".plist"):
            job = _launchd_job(path, places, roots)
            if job is not None:
                found.append(job)
    for folder in places.systemd_dirs:
        for path in _files(folder, ".service"):
            job = _systemd_job(path, places, roots)
            if job is not None:
                found.append(job)
    return found


def _files(folder: Path, suffix: str) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.name.endswith(suffix) and p.is_file())
    except OSError:  # missing, not a directory, not ours to read
        return []


def _read(path: Path) -> bytes | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        return None


def _launchd_job(path: Path, places: SearchPlaces, roots: list[Path]) -> OldJob | None:
    # here, not at the top: plistlib and expat cost RSS in every `remi-ops watch` otherwise
    import plistlib  # noqa: PLC0415
    from xml.parsers.expat import ExpatError  # noqa: PLC0415

    data = _read(path)
    try:
        job: Any = plistlib.loads(data) if data is not None else None
    except (plistlib.InvalidFileException, ExpatError, ValueError, TypeError, OverflowError):
        return None  # not a plist we can read (binary plists are read too)
    if not isinstance(job, dict):
        return None
    label = str(job.get("Label") or path.stem)
    args = job.get("ProgramArguments") or ([job["Program"]] if job.get("Program") else [])
    program = tuple(str(a) for a in args) if isinstance(args, list) else ()
    cwd = job.get("WorkingDirectory")
    why = _why_old(label, program, Path(str(cwd)) if cwd else None, places.home, roots)
    if why is None:
        return None
    return OldJob("launchd", label, path, places.is_system(path), program, why)


def _systemd_job(path: Path, places: SearchPlaces, roots: list[Path]) -> OldJob | None:
    data = _read(path)
    if data is None:
        return None
    text = data.decode("utf-8", errors="replace")
    program = tuple(exec_start(text, places.home))
    why = _why_old(path.name, program, working_directory(text, places.home), places.home,
                   roots)
    if why is None:
        return None
    return OldJob("systemd", path.name, path, places.is_system(path), program, why)


def _why_old(name: str, program: Sequence[str], cwd: Path | None, home: Path,
             roots: list[Path]) -> str | None:
    if name.startswith(("com.bubabot.", "bubabot-")):
        return None
    if name == OLD_LABEL:
        return f"the old watchdog's label ({OLD_LABEL})"
    for script in _watchdog_scripts(program, cwd, home):
        for root in roots:
            if script.is_relative_to(root):
                return f"runs {script}, a watchdog in {root}"
    return None


def _watchdog_scripts(program: Sequence[str], cwd: Path | None, home: Path) -> list[Path]:
    """Paths named in ``program`` (also inside ``sh -c '…'``) whose file name says watchdog."""
    words: list[str] = []
    for arg in program:
        try:
            words += shlex.split(arg) if " " in arg else [arg]
        except ValueError:
            words += arg.split()
    scripts = []
    for word in words:
        if WATCHDOG_WORD not in Path(word).name.lower():
            continue
        path = Path(word.replace("$HOME", str(home)))
        path = home / path.relative_to("~") if word.startswith("~/") else path
        if not path.is_absolute():
            if cwd is None:
                continue
            path = cwd / path
        scripts.append(_resolved(path))
    return scripts


def _resolved(path: Path) -> Path:
    try:
        return path.expanduser().resolve()
    except (OSError, RuntimeError):
        return path.expanduser()


# --------------------------------------------------------------------------- retiring


def retire_steps(job: OldJob, uid: int, home: Path) -> list[RetireStep]:
    """What stops the old job now and keeps it from coming back at the next login/boot.

    launchd: ``bootout`` it, then move its plist away (launchd loads every plist in those
    folders at login or boot; the moved file is kept to put back). systemd: ``disable
    --now`` it. A system job's commands are shown with ``sudo``.
    """
    sudo = "sudo " if job.system else ""
    if job.manager == "launchd":
        target = f"system/{job.name}" if job.system else f"gui/{uid}/{job.name}"
        moved = retired_dir(home) / job.path.name
        return [RetireStep(argv=("launchctl", "bootout", target),
                           shown=f"{sudo}launchctl bootout {target}"),
                RetireStep(move_from=job.path, move_to=moved,
                           shown=f"{sudo}mkdir -p {shlex.quote(str(moved.parent))} && "
                           f"{sudo}mv {shlex.quote(str(job.path))} "
                           f"{shlex.quote(str(moved))}")]
    scope = () if job.system else ("--user",)
    argv = ("systemctl", *scope, "disable", "--now", job.name)
    return [RetireStep(argv=argv, shown=sudo + shlex.join(argv))]
