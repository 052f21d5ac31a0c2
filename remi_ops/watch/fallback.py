"""Saying that the act path failed without the parts that may be what failed.

When a restart, a stop or the record step after it raises (a read-only state_dir, a
damaged database, a full disk), the alert engine and its outbox live in that very SQLite
file, so the failure is told through a path that needs none of it: the log, and one JSON
line appended to the target's ``.bot_alert`` in the format ``alerts.local_sinks.FileSink``
writes (ts, target, level, message, plus ``kind``). Each distinct cause is written once
until every step it broke works again, so a retry loop never floods the file, and one
damaged database failing two steps a few milliseconds apart is one line, not two.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from remi_ops.clock import Clock
from remi_ops.host.workdir import skip_in_missing_workdir
from remi_ops.store.filesafety import append_whole_line

log = logging.getLogger(__name__)
#: the ``kind`` of the fallback line, so a reader can tell it from the outbox's lines
FALLBACK_KIND = "act_failed"


@dataclass
class FallbackAlerts:
    """One target's store-free failure reports, each said once until ``recovered``."""

    target: str
    alert_file: Path
    clock: Clock
    #: the target's workdir: never created to hold the alert file
    workdir: Path | None = None
    #: cause (exception type + redacted text) → the steps it failed, since said
    _said: dict[str, set[str]] = field(default_factory=dict)

    def report(self, where: str, exc: BaseException, redacted: str) -> None:
        """Log ``exc`` and append one critical line for it, unless already said."""
        log.error("%s failed: %s: %s", where, type(exc).__name__, redacted, exc_info=exc,
                  extra={"target": self.target})
        cause = f"{type(exc).__name__}: {redacted}"
        if cause in self._said:
            self._said[cause].add(where)
            return  # said already (perhaps by another step it broke)
        if skip_in_missing_workdir(self.alert_file, self.workdir, self.target):
            return  # its file would create a missing workdir
        message = (f"{self.target}: {where} failed ({type(exc).__name__}: {redacted}); "
                   "the watchdog keeps Remi running and retries with backoff, "
                   "but a human should look")
        try:
            self._append({"ts": self.clock.now().isoformat(), "target": self.target,
                          "level": "critical", "message": message, "kind": FALLBACK_KIND,
                          "where": where})
        except OSError as write_exc:  # the log line above is then the only trace
            log.error("could not write %s either: %s", self.alert_file, write_exc,
                      extra={"target": self.target})
            return
        self._said[cause] = {where}

    def recovered(self, *wheres: str) -> None:
        """These steps worked again: a cause none of whose steps still fail is news again."""
        for steps in self._said.values():
            steps.difference_update(wheres)
        self._said = {cause: steps for cause, steps in self._said.items() if steps}

    def _append(self, record: dict[str, str]) -> None:
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        self.alert_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.alert_file, "a+b") as fh:
            append_whole_line(fh, line)
