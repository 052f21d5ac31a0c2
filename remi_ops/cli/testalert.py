"""``remi-ops test-alert``: a marked test notification through every sink; exit 0 when all
delivered it.

With a watcher running (``remi-ops watch``, or Bubabot) the request goes through the spool
and that watcher sends it through *its* sinks (the webhook, or Bubabot's bot sink), which
is what real alerts use. With none, the command line sends it through the sinks it can
build itself: the alert file and, with ``DISCORD_WEBHOOK_URL`` set, the webhook; Bubabot's
bot sink is reported as not delivered (nobody runs it).
"""

from __future__ import annotations

import argparse

from remi_ops.alerts.hub import jsonable
from remi_ops.alerts.testalert import DeliveryReport, report_lines
from remi_ops.cli.common import exit_code, print_json, print_lines
from remi_ops.cli.verbs import Ask, carry_out
from remi_ops.config import Settings


def cmd_test_alert(settings: Settings, args: argparse.Namespace) -> int:
    target = settings.target(args.target).name
    report: DeliveryReport = carry_out(settings, Ask("test_alert", target, attach=False))
    if args.json:
        print_json({**jsonable(report), "ok": report.ok})
    else:
        print_lines(report_lines(report))
    return exit_code(report.ok)
