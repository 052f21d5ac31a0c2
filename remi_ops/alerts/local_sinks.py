"""The two sinks on this machine: each target's alert file and the console.

``FileSink`` is exactly once (it looks for the notification id in the file's tail before
appending); ``ConsoleSink`` cannot look back at what it printed, so it is at least once.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from remi_ops.alerts.model import Notification
from remi_ops.alerts.text import alert_file_record, console_line
from remi_ops.host.workdir import skip_in_missing_workdir
from remi_ops.store.filesafety import (
    SymlinkRefused,
    append_whole_line,
    open_for_append,
    open_for_reading,
)


class FileSink:
    """Appends one JSON line per notification to the target's ``.bot_alert``; exactly once."""

    def __init__(self, paths: Mapping[str, Path], default: Path | None = None, *,
                 name: str = "file", tail_bytes: int = 256 * 1024,
                 workdirs: Mapping[str, Path] | None = None) -> None:
        self.name = name
        self.paths = dict(paths)
        #: each target's workdir: a missing one is never created to hold its alert file
        self.workdirs = dict(workdirs or {})
        self.default = default
        self.tail_bytes = tail_bytes

    async def deliver(self, n: Notification, previous_ref: str | None) -> str | None:
        del previous_ref  # a file is append-only: updates are new lines with the same key
        return await asyncio.to_thread(self.append, n)

    def path_for(self, target: str) -> Path:
        path = self.paths.get(target, self.default)
        if path is None:
            raise ValueError(f"no alert file configured for target {target!r}")
        return path

    def append(self, n: Notification) -> str:
        """Append (fsync'd) unless the tail already holds this notification's id."""
        path = self.path_for(n.target)
        if skip_in_missing_workdir(path, self.workdirs.get(n.target), n.target):
            return n.id  # Discord and the console still get it; the file comes back with it
        path.parent.mkdir(parents=True, exist_ok=True)
        if self._already_written(path, n.id):
            return n.id
        line = (json.dumps(alert_file_record(n), default=str, ensure_ascii=False) + "\n").encode()
        try:
            fd = open_for_append(path)
        except SymlinkRefused as refused:  # a planted link: write nothing through it
            refused.report_once(f"alerts for {n.target} are not written there (Discord "
                                "and the console still get them)")
            return n.id
        with os.fdopen(fd, "a+b") as fh:
            append_whole_line(fh, line)
        return n.id

    def _already_written(self, path: Path, notification_id: str) -> bool:
        try:
            with os.fdopen(open_for_reading(path), "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - self.tail_bytes))
                tail = fh.read()
        except (FileNotFoundError, SymlinkRefused):
            return False
        if notification_id.encode() not in tail:
            return False
        for raw in tail.splitlines()[1:] if len(tail) >= self.tail_bytes else tail.splitlines():
            try:
                if json.loads(raw).get("id") == notification_id:
                    return True
            except (ValueError, AttributeError):
                continue  # a torn or foreign line
        return False


class ConsoleSink:
    """One readable line per notification on a stream (stdout in headless mode)."""

    def __init__(self, stream: TextIO, *, name: str = "console") -> None:
        self.name = name
        self.stream = stream

    async def deliver(self, n: Notification, previous_ref: str | None) -> str | None:
        del previous_ref
        self.stream.write(console_line(n) + "\n")
        self.stream.flush()
        return None
