"""``python -m remi_ops.beacon check``: the beacon as a health-check command (stdlib only).

Exit 0 when the beacon file is fresh and Remi's event loop is on time, 1 otherwise, with
one line that says why, on stdout. Built for the probes orchestrators run inside the
container: a Kubernetes ``livenessProbe.exec``, a Docker ``HEALTHCHECK``, a Nomad script
check. Every failure, bad arguments included, exits 1: Docker reserves exit code 2, and
every orchestrator reads any non-zero code as unhealthy.

The defaults are the watcher's: ``--max-age-s`` is ``[targets.health] beacon_stale_s``
(15 s: not even the writer thread runs), ``--max-lag-s`` is ``hang_threshold_s`` (60 s:
the loop blocked that long is a hang).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from remi_ops.beacon.reader import ENV_FILE, BeaconReading, beacon_path, read_beacon

#: ``[targets.health] beacon_stale_s``'s default (a test keeps them equal)
DEFAULT_MAX_AGE_S = 15.0
#: ``[targets.health] hang_threshold_s``'s default (a test keeps them equal)
DEFAULT_MAX_LAG_S = 60.0
HEALTHY, UNHEALTHY = 0, 1


@dataclass(frozen=True, slots=True)
class Verdict:
    """The check's answer: healthy or not, and the one line that says why."""

    healthy: bool
    line: str

    @property
    def exit_code(self) -> int:
        return HEALTHY if self.healthy else UNHEALTHY


def judge(reading: BeaconReading | None, path: Path, *, exists: bool, max_age_s: float,
          max_lag_s: float) -> Verdict:
    """The verdict on one reading (None: the file is missing or not a beacon)."""
    if reading is None:
        if not exists:
            return Verdict(False, f"unhealthy: no beacon file at {path} (is beacon.start() "
                                  f"called in Remi, with the same ${ENV_FILE}?)")
        return Verdict(False, f"unhealthy: {path} is not a beacon file (unreadable, "
                              "not JSON, or another schema)")
    if reading.stopped:
        return Verdict(False, "unhealthy: the beacon was stopped (Remi shut down)")
    if reading.age_s > max_age_s:
        return Verdict(False, f"unhealthy: the beacon was last written {reading.age_s:.1f} s "
                              f"ago (over {max_age_s:g} s): the process is frozen or gone")
    lag = reading.lag_now_s
    if lag > max_lag_s:
        return Verdict(False, f"unhealthy: the event loop is {lag:.1f} s late (over "
                              f"{max_lag_s:g} s): something blocks it")
    return Verdict(True, f"healthy: beacon written {reading.age_s:.1f} s ago, loop lag "
                         f"{lag:.3f} s (max {max_lag_s:g} s)")


def check(path: Path, max_age_s: float, max_lag_s: float) -> Verdict:
    """Read the beacon at ``path`` now and judge it."""
    reading = read_beacon(path, time.time())
    return judge(reading, path, exists=path.exists(), max_age_s=max_age_s,
                 max_lag_s=max_lag_s)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 1 (not 2: Docker reserves it)."""

    def error(self, message: str) -> NoReturn:
        self.exit(UNHEALTHY, f"{self.prog}: {message} (see --help)\n")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number of seconds above 0")
    return value


def parser() -> argparse.ArgumentParser:
    cli = _Parser(prog="python -m remi_ops.beacon",
                  description="Remi's event-loop beacon, as a health check.")
    commands = cli.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser(
        "check", help="exit 0 when the beacon is fresh and the loop on time, else 1",
        description="Exit 0 when the beacon is fresh and the event loop on time, 1 "
                    "otherwise; one line says why.")
    run.add_argument("--file", type=Path, default=None,
                     help=f"the beacon file (default: ${ENV_FILE}, else ./.remi_beacon.json)")
    run.add_argument("--max-age-s", type=_seconds, default=DEFAULT_MAX_AGE_S,
                     help="unhealthy when the file is older (default: %(default)g, "
                          "[targets.health] beacon_stale_s)")
    run.add_argument("--max-lag-s", type=_seconds, default=DEFAULT_MAX_LAG_S,
                     help="unhealthy when the loop is later than this (default: %(default)g, "
                          "[targets.health] hang_threshold_s)")
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 healthy, 1 anything else)."""
    args = parser().parse_args(argv)
    verdict = check(beacon_path(args.file), args.max_age_s, args.max_lag_s)
    print(verdict.line)  # noqa: T201 - the one line is the command's output
    return verdict.exit_code
