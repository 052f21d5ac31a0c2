"""Error groups: the aggregator counts, dates, redacts and bounds what it keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bubabot_local.logkit import NOW, parse, sample

from remi_ops.domain import ErrorGroup, LogKind, LogRecord
from remi_ops.logs.error_groups import ErrorAggregator
from remi_ops.logs.redact import Redactor, redact_patterns

# --------------------------------------------------------------------------- groups


def record(fp_text: str, at: datetime | None, kind: LogKind = LogKind.ERROR) -> LogRecord:
    return parse(f"[{at:%Y-%m-%d %H:%M:%S}] [ERROR   ] remi: {fp_text}\n")[0] if at else \
        LogRecord(kind=kind, level="ERROR", message=fp_text, logger="remi")


def test_aggregator_counts_batches_and_reports_new() -> None:
    """Each fold describes its batch; new means never seen by this aggregator."""
    agg = ErrorAggregator("remi", redact_patterns)
    t0 = datetime(2026, 1, 24, 3, 0, tzinfo=UTC)
    first = agg.fold([record("db down", t0), record("db down", t0 + timedelta(seconds=5))], NOW)
    assert len(first.new) == 1 and first.groups[0].count == 2
    second = agg.fold([record("db down", t0 + timedelta(minutes=1))], NOW)
    assert second.new == () and second.groups[0].count == 1
    assert second.groups[0].first_seen == t0 + timedelta(minutes=1)
    (total,) = agg.groups()
    assert total.count == 3 and total.first_seen == t0
    assert total.last_seen == t0 + timedelta(minutes=1)


def test_aggregator_ignores_info_gateway_and_rate_limits() -> None:
    """Only CRASH/ERROR/FATAL_CONFIG/TIMEOUT/HANG become groups ("Can't keep up" is
    latency, not a hang: not a group)."""
    agg = ErrorAggregator("remi", redact_patterns)
    result = agg.fold(sample("incident_plain.log"), NOW)
    assert {g.kind for g in result.groups} == {LogKind.CRASH, LogKind.HANG}
    assert sum(g.count for g in result.groups) == 6


def test_aggregator_redacts_title_and_sample_and_bounds_sample() -> None:
    """What leaves the aggregator went through the injected redact, then was cut."""
    secret = "hunter2-very-secret"
    agg = ErrorAggregator("remi", Redactor([secret]),
                          sample_limit=200)
    long_tb = ("Traceback (most recent call last):\n"
               + '  File "/app/x.py", line 1, in f\n    g()\n' * 50
               + f"ValueError: token {secret}\n")
    records = parse(f"[2026-01-24 03:00:00] [ERROR   ] remi: login {secret} failed\n" + long_tb)
    (group,) = agg.fold(records, NOW).groups
    assert secret not in group.title + group.sample
    assert len(group.sample) <= 200
    assert group.sample.endswith("ValueError: token [REDACTED:secret]")


def test_aggregator_uses_now_for_undated_records_and_seeds_known() -> None:
    """Bare tracebacks have no timestamp: ``now`` dates them; known groups are not new."""
    agg = ErrorAggregator("remi", redact_patterns)
    (rec,) = parse('Traceback (most recent call last):\n  File "/a.py", line 1, in f\n'
                   "    f()\nValueError: x\n")
    result = agg.fold([rec], NOW)
    assert result.groups[0].first_seen == NOW
    known = ErrorGroup(rec.fingerprint, "remi", redact_patterns("ValueError: x"), LogKind.CRASH,
                       5, NOW, NOW, redact_patterns("sample"))
    seeded = ErrorAggregator("remi", redact_patterns, [known])
    assert seeded.fold([rec], NOW + timedelta(hours=1)).new == ()
    assert seeded.group(rec.fingerprint) is not None
    assert seeded.group(rec.fingerprint).count == 6  # type: ignore[union-attr]
    untouched = ErrorAggregator("remi", redact_patterns, [known]).groups()
    assert untouched == (known,)


def test_aggregator_memory_is_bounded() -> None:
    """Past max_groups, the groups seen longest ago are forgotten (the store keeps them)."""
    agg = ErrorAggregator("remi", redact_patterns, max_groups=10)
    t0 = datetime(2026, 1, 24, 3, 0, tzinfo=UTC)
    for i in range(30):
        tb = (f'Traceback (most recent call last):\n  File "/app/m{i}.py", line 1, in f\n'
              f"    f()\nValueError: x\n")
        agg.fold(parse(tb), t0 + timedelta(minutes=i))
    groups = agg.groups()
    assert len(groups) <= 11
    assert groups[0].last_seen == t0 + timedelta(minutes=29)
