"""The fast path's search: lazy, the loud levels found through their R, and a log whose
INFO text is full of R's (the search falls back to the words) parsed like any other."""

from __future__ import annotations

from remi_ops.domain import LogKind, LogRecord
from remi_ops.logs import scan
from remi_ops.logs.parse import LogParser

INFO_WITH_R = "[2026-01-24 03:00:00] [INFO    ] remi.scan: Remi Ran a Round of Requests: RRR {i}"
LOUD = ("[2026-01-24 03:00:01] [ERROR   ] remi.scan: failed {i}",
        "[2026-01-24 03:00:02] [WARNING ] remi.scan: slow {i}",
        "[2026-01-24 03:00:03] [CRITICAL] remi.scan: down {i}",
        "[2026-01-24 03:00:04] [INFO    ] discord.gateway: Shard ID None has successfully RESUMED",
        "[2026-01-24 03:00:05] [INFO    ] remi.scan: handled\nTraceback (most recent call last):\n"
        '  File "/app/x.py", line 1, in f\n    f()\nValueError: RRR {i}')


def line_by_line(text: str) -> list[LogRecord]:
    parser = LogParser()
    return [r for r in parser.feed(text) + parser.flush() if r.kind is not LogKind.INFO]


def fast(text: str) -> list[LogRecord]:
    parser = LogParser(keep_info=False)
    return parser.feed_bytes(text.encode()) + parser.flush()


def log_with(info_lines: int) -> str:
    lines = []
    for i in range(info_lines):
        lines.append(INFO_WITH_R.format(i=i))
        if i % 23 == 0:
            lines.append(LOUD[(i // 23) % len(LOUD)].format(i=i))
    return "\n".join(lines) + "\n"


def test_r_in_info_text_beyond_the_budget_changes_nothing() -> None:
    """More R's in INFO lines than a window's budget: every loud record is still found."""
    text = log_with(scan._R_MISSES_PER_WINDOW * 2 // 5)  # 5+ R per line: past the budget
    assert text.count("R") > scan._R_MISSES_PER_WINDOW * 2
    expected = line_by_line(text)
    assert len(expected) > 20
    assert fast(text) == expected


def test_each_level_word_is_found_once_through_its_r() -> None:
    data = b"x ERROR y WARNING z CRITICAL RRR ERRORERROR\n"
    hits = scan._Hits(data, len(data))
    found, pos = [], 0
    while (hit := hits.next(pos)) < len(data):
        found.append(hit)
        pos = hit + 1
    assert found == [2, 10, 20, 33, 38]


def test_a_window_without_any_hit_skips_everything() -> None:
    text = "".join(f"[2026-01-24 03:00:00] [INFO    ] remi.scan: all good {i}\n"
                   for i in range(1000))
    assert fast(text) == []


def test_a_header_starting_with_d_after_a_traceback_ends_it() -> None:
    """A body's end is looked for at lines that may start a record; "During handling …"
    may not, but a basic-layout DEBUG header may (also one a colour code splits): each
    ends the traceback before it, as the line-by-line parser says."""
    traceback = ("[2026-01-24 03:00:05] [ERROR   ] remi.scan: failed\n"
                 "Traceback (most recent call last):\n"
                 '  File "/app/x.py", line 1, in f\n    f()\nKeyError: 1\n\n'
                 "During handling of the above exception, another exception occurred:\n\n"
                 "Traceback (most recent call last):\n"
                 '  File "/app/x.py", line 2, in g\n    g()\nValueError: 2\n')
    for debug in ("DEBUG:discord.gateway:Shard ID None has successfully RESUMED",
                  "D\x1b[0mEBUG:discord.gateway:Shard ID None has successfully RESUMED",
                  "Durin:discord.gateway:Shard ID None has successfully RESUMED",
                  "During: handling"):
        text = traceback + debug + "\n" + traceback
        expected = line_by_line(text)
        assert len(expected) >= 2
        assert fast(text) == expected, debug
