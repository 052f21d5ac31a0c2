"""``.bot_health``: one JSON object, schema-versioned, replaced atomically.

Scripts from the old setup (``cat .bot_health``) keep working; the watcher's own heartbeat
is inside so a dead watcher is visible to whoever reads the file.

A check rewrites it when it says something new and otherwise moves its mtime
(``checks.healthbeat``, which also says which reader relies on what); a rewrite is cheap.
On Linux it is one of a pair of files kept while a watcher runs (the other is removed at a
clean stop: ``checks.healthbeat.let_go``): the new document is written in place
into the spare (``.bot_health.spare``: the previous document), and the two names are
exchanged in one step (``host.swap.exchange``) — no file created, none unlinked (an
unlink of the swapped-out file was the dearest part of a check's write in a watcher of
many targets), and none of the flush ext4 starts at a rename over a file or at a
truncation to zero. Elsewhere (no exchange: macOS, a file system that refuses it) a
fresh temp file named after its writer (no random name to find) is renamed over it.
Either way there is no fsync. The exchange or rename keeps readers safe — they see the
old document or the new one, never half of one (a reader would have to hold the old
file open until the next rewrite, a check interval or more away, to see otherwise)
— and what an fsync would add, the new content surviving a power cut, a status file
does not need: after a crash the next check rewrites it, and a file left empty or stale
by one reads as "no watcher" (``read_health_file`` → None, or an old heartbeat), which
is what it is. One watcher writes a target's file (the target lock); a spare left
half-written by a crash is overwritten by the next write.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from remi_ops.domain import Check, Finding, HealthReport, Severity, Status
from remi_ops.host.swap import CAN_EXCHANGE, exchange, swap_in
from remi_ops.logs.redact import redact_patterns

SCHEMA = 1
#: the document as ``json.dumps(doc, indent=2, sort_keys=True)`` lays it out, but in C
#: (with an indent, ``json`` encodes in Python); text other than ASCII is written as UTF-8
#: rather than ``\u`` escapes, which every JSON reader takes the same. ``str`` subclasses
#: (a redacted text) are written as their text.
_ENCODER = msgspec.json.Encoder(order="sorted", enc_hook=str)
#: a ``watcher`` key: its heartbeat is also the file's mtime, moved by every check
BEAT_IN_MTIME = "beat_in_mtime"


def report_to_dict(report: HealthReport) -> dict[str, Any]:
    """A JSON-ready view of a report (also what ``remi-ops health --json`` prints)."""
    proc = report.process
    return {
        "target": report.target,
        "status": str(report.status),
        "healthy": report.healthy,
        "checked_at": report.checked_at.isoformat(),
        "supervisor_state": report.supervisor_state,
        "reasons": list(report.reasons),
        "findings": [{**asdict(f), "status": str(f.status), "severity": str(f.severity)}
                     for f in report.findings],
        "process": None if proc is None else {
            "pid": proc.identity.pid, "status": proc.status,
            "cpu_percent": round(proc.cpu_percent, 1), "rss_mb": round(proc.rss_bytes / 2**20, 1),
            "uptime_s": round(proc.uptime_s, 1), "children": list(proc.children)},
        "loop_lag_s": report.loop_lag_s,
        "beacon_age_s": report.beacon_age_s,
        "gateway": report.gateway,
        "new_error_groups": list(report.new_groups),
        "restarts_recent": report.restarts_recent,
    }


def write_health_file(path: Path, report: HealthReport, *, watcher_pid: int,
                      watcher_beat: datetime, check_interval_s: float,
                      beat_in_mtime: bool = False) -> None:
    """Replace the file atomically (temp file in the same directory, rename; no fsync).

    ``beat_in_mtime``: the writer moves the file's mtime at each check between rewrites
    (``checks.healthbeat``); the document says so, and ``read_health_file`` then takes
    the later of the two as the heartbeat."""
    watcher: dict[str, Any] = {"pid": watcher_pid, "heartbeat_at": watcher_beat.isoformat(),
                               "check_interval_s": check_interval_s}
    if beat_in_mtime:
        watcher[BEAT_IN_MTIME] = True
    doc = {"schema": SCHEMA, **report_to_dict(report), "watcher": watcher}
    replace_quickly(path, msgspec.json.format(_ENCODER.encode(doc), indent=2).decode() + "\n")


def replace_quickly(path: Path, text: str) -> None:
    """``path`` holds ``text`` or what it held before, never a mix; no fsync (see above)."""
    spare = spare_of(path)
    if _write_in_place(spare, text.encode("utf-8")):
        if not exchange(spare, path):  # the first write, or a file system without it
            spare.replace(path)
        return
    _replace_by_rename(path, text)


def spare_of(path: Path) -> Path:
    """The other file of the exchanged pair: ``.bot_health`` → ``.bot_health.spare``."""
    return path.with_name(f"{'' if path.name.startswith('.') else '.'}{path.name}.spare")


def _write_in_place(spare: Path, data: bytes) -> bool:
    """``spare`` holds ``data`` (written over what it held, cut to length); False where
    there is no exchange to put it in place with, or no spare to write (its folder
    missing): nothing is written then."""
    if not CAN_EXCHANGE:
        return False
    try:
        fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:  # something else by that name, not ours: the rename way
        return False
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.ftruncate(fd, len(data))  # never to zero: that would make ext4 flush at close
    finally:
        os.close(fd)
    return True


def _replace_by_rename(path: Path, text: str) -> None:
    """A new temp file renamed (or swapped) over ``path``: where there is no exchange,
    and a first write into a missing folder.

    The temp file's name is its writer's (process and thread), so two writers never
    share one and no random name is drawn; one left by a crash is replaced by the same
    writer's next write, or stays a hidden ``.tmp`` file beside the status file.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = _create(tmp)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = _create(tmp)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        swap_in(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _create(tmp: Path) -> int:
    """A new, empty temp file (one left by a crash is removed first: a file truncated on
    open, not a new one, would make ext4 flush it at close)."""
    try:
        return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        tmp.unlink()
        return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


def report_from_dict(doc: dict[str, Any]) -> HealthReport:
    """The report a ``.bot_health`` document holds (``ValueError``/``KeyError`` if garbled).

    The process snapshot stays out: the file keeps only its summary, and a report read
    back is about the past anyway (a stale watcher's last word).
    """
    findings = tuple(Finding(_check(f["check"]), Status(f["status"]), str(f["summary"]),
                             Severity(f.get("severity", Severity.WARNING)),
                             redact_patterns(str(f.get("evidence", ""))))
                     for f in doc.get("findings", ()))
    return HealthReport(
        target=str(doc["target"]), status=Status(doc["status"]),
        checked_at=datetime.fromisoformat(str(doc["checked_at"])), findings=findings,
        supervisor_state=str(doc.get("supervisor_state", "")),
        loop_lag_s=doc.get("loop_lag_s"), beacon_age_s=doc.get("beacon_age_s"),
        gateway=str(doc.get("gateway", "")),
        new_groups=tuple(doc.get("new_error_groups", ())),
        restarts_recent=int(doc.get("restarts_recent", 0)))


def read_health_file(path: Path) -> dict[str, Any] | None:
    """The last written document, or None when missing or unreadable; its
    ``watcher.heartbeat_at`` and ``checked_at`` are the file's mtime when that is later
    and the document says its writer moves the mtime (a check that found nothing new
    moves only the mtime: ``checks.healthbeat``)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
            mtime_ns = os.fstat(handle.fileno()).st_mtime_ns
        doc = json.loads(data.decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    _beat_from_mtime(doc, mtime_ns)
    return doc


def _beat_from_mtime(doc: dict[str, Any], mtime_ns: int) -> None:
    """For a document that says its writer moves the file's mtime at every check, the
    mtime is the watcher's heartbeat and the time of its last check, when later than
    what was written (what that check found is what the document says; only the
    measurements in it are as old as the writing). A foreign, older or hand-edited
    document, or one without a readable heartbeat, is left as it is."""
    watcher = doc.get("watcher")
    if not isinstance(watcher, dict) or watcher.get(BEAT_IN_MTIME) is not True:
        return
    touched = datetime.fromtimestamp(mtime_ns / 1e9, tz=UTC)
    for holder, key in ((watcher, "heartbeat_at"), (doc, "checked_at")):
        try:
            written = datetime.fromisoformat(str(holder[key]))
        except (KeyError, ValueError):
            continue
        if written.tzinfo is not None and touched > written:
            holder[key] = touched.astimezone(written.tzinfo).isoformat()


_CHECKS = {c.value: c for c in Check}


def _check(name: object) -> Check:
    """A finding's check read back; an unknown name (an older file) reads as the watcher's."""
    return _CHECKS.get(str(name), Check.WATCHER)
