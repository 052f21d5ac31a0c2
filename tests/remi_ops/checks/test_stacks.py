"""Evidence that reads: the blocking call named, Remi's frames first, cuts at the end."""

from __future__ import annotations

from pathlib import Path

from remi_ops.checks.evidence import excerpt
from remi_ops.checks.stacks import blocking_frame, frames_of, readable_stack

APP = Path("/srv/remi")
LIB = "/usr/lib/python3.11"
SITE = "/srv/remi/.venv/lib/python3.11/site-packages"
BEACON_STACK = (
    "Loop thread stack (most recent call last):\n"
    f'  File "{APP}/main.py", line 90, in <module>\n    bot.run(token)\n'
    f'  File "{SITE}/discord/client.py", line 860, in run\n    asyncio.run(runner())\n'
    f'  File "{LIB}/asyncio/base_events.py", line 1922, in _run_once\n    handle._run()\n'
    f'  File "{APP}/cogs/scan.py", line 51, in scan\n    score = score_track(url)\n'
    f'  File "{APP}/packages/soundcloud.py", line 42, in fetch_track_sync\n'
    "    data = sock.recv(65536)\n"
    f'  File "{SITE}/requests/sessions.py", line 589, in request\n    resp = self.send()\n'
    f'  File "{LIB}/socket.py", line 706, in readinto\n    return self._sock.recv_into(b)\n')
FAULTHANDLER = (
    "Thread 0x00007f (most recent call first):\n"
    f'  File "{LIB}/socket.py", line 706 in readinto\n'
    f'  File "{APP}/packages/soundcloud.py", line 42 in fetch_track_sync\n'
    f'  File "{APP}/cogs/scan.py", line 51 in scan\n')


def test_the_blocking_call_is_the_innermost_frame_of_remis_own_code() -> None:
    """Not socket.py, not requests: the function in Remi's workdir that called them."""
    frame = blocking_frame(BEACON_STACK, APP)
    assert frame is not None and frame.where == "fetch_track_sync (soundcloud.py:42)"
    assert frames_of(FAULTHANDLER)[-1].function == "readinto"  # outermost first, turned
    dumped = blocking_frame(FAULTHANDLER, APP)
    assert dumped is not None and dumped.function == "fetch_track_sync"


def test_without_a_frame_under_the_workdir_any_non_library_frame_is_remis() -> None:
    """Remi installed elsewhere: site-packages and the standard library are still not it."""
    frame = blocking_frame(BEACON_STACK, Path("/somewhere/else"))
    assert frame is not None and frame.function == "fetch_track_sync"
    assert blocking_frame(f'  File "{LIB}/socket.py", line 706, in readinto\n', APP) is None


def test_remis_frames_lead_and_survive_a_cut() -> None:
    """A 300-character field keeps the blocking call and its callers, not asyncio's frames."""
    text = readable_stack(BEACON_STACK, APP)
    assert text.startswith("Blocked in fetch_track_sync (soundcloud.py:42)\n")
    assert text.index("scan (scan.py:51)") < text.index("base_events.py")
    cut = excerpt(text, 300)
    assert len(cut) <= 300
    assert "fetch_track_sync (soundcloud.py:42): data = sock.recv(65536)" in cut
    assert "scan (scan.py:51)" in cut and "more characters cut" in cut
    assert excerpt(text, len(text)) == text
    assert text[-100:].endswith("\nBlocked in fetch_track_sync (soundcloud.py:42)")


def test_a_stack_without_frames_is_kept_as_it_is() -> None:
    assert readable_stack("no frames here", APP) == "no frames here"
