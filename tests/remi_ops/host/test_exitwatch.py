"""The one waiter for every process, with real processes, in each of its ways of waiting.

``pidfd`` is the Linux default; ``poll`` is the fallback (forced here with ``mode``). Both
must tell the same story: a death noticed, our child's status reaped, an adopted one's
unknown, a reused pid never mistaken, and nothing left registered afterwards.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from bubabot_local.simkit import SLEEPER, bot_target, start_by_hand, write_bot

from remi_ops import host
from remi_ops.domain import ProcessIdentity
from remi_ops.host.exitwatch import ExitWatch, Mode, best_mode

pytestmark = pytest.mark.integration

MODES: list[Mode] = ["poll", "pidfd"] if best_mode() == "pidfd" else ["poll"]
#: generous: a death is noticed in milliseconds, this only bounds a broken test
NOTICE_S = 20.0

EXIT_3 = "import time; time.sleep(0.3); raise SystemExit(3)"


@pytest.fixture(params=MODES)
def exits(request: pytest.FixtureRequest) -> ExitWatch:
    return ExitWatch(mode=request.param, poll_interval_s=0.05)


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd")) if sys.platform == "linux" else set()


async def test_our_childs_death_is_noticed_with_its_signal(tmp_path: Path, exits: ExitWatch,
                                                           spawned: list[ProcessIdentity]) -> None:
    ident = host.spawn(bot_target(tmp_path / "remi", SLEEPER))
    spawned.append(ident)
    waiting = asyncio.ensure_future(exits.exited(ident))
    await asyncio.sleep(0.2)
    assert not waiting.done() and exits.watching() == 1
    os.kill(ident.pid, signal.SIGKILL)
    info = await asyncio.wait_for(waiting, NOTICE_S)
    assert (info.pid, info.known, info.signal, info.returncode) == \
        (ident.pid, True, signal.SIGKILL, -signal.SIGKILL)
    assert exits.watching() == 0
    exits.close()


async def test_our_childs_exit_code_is_reaped(tmp_path: Path, exits: ExitWatch,
                                              spawned: list[ProcessIdentity]) -> None:
    ident = host.spawn(bot_target(tmp_path / "remi", EXIT_3))
    spawned.append(ident)
    info = await asyncio.wait_for(exits.exited(ident), NOTICE_S)
    assert (info.known, info.returncode, info.signal) == (True, 3, None)
    assert host.lifecycle.own_child(ident).returncode == 3  # type: ignore[union-attr]
    exits.close()


async def test_an_adopted_processs_status_is_unknown(tmp_path: Path, exits: ExitWatch) -> None:
    pid = start_by_hand(write_bot(tmp_path / "remi"), sys.executable, "bot.py")
    ident = host.identify(pid)
    assert ident is not None
    waiting = asyncio.ensure_future(exits.exited(ident))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    os.kill(pid, signal.SIGKILL)
    info = await asyncio.wait_for(waiting, NOTICE_S)
    assert (info.pid, info.known, info.returncode, info.signal) == (pid, False, None, None)
    exits.close()


async def test_a_reused_pid_is_never_mistaken_for_the_process(tmp_path: Path,
                                                              exits: ExitWatch) -> None:
    """The identity names a process that started earlier under this pid: it is gone, even
    though something else runs under that number now, and that something is left alone."""
    pid = start_by_hand(write_bot(tmp_path / "remi"), sys.executable, "bot.py")
    stranger = host.identify(pid)
    assert stranger is not None
    earlier = replace(stranger, create_time=stranger.create_time - 3600)
    info = await asyncio.wait_for(exits.exited(earlier), NOTICE_S)
    assert (info.pid, info.known) == (pid, False)
    assert host.is_alive(stranger)
    exits.close()


async def test_a_process_already_gone_is_reported_at_once(tmp_path: Path,
                                                          exits: ExitWatch) -> None:
    pid = start_by_hand(write_bot(tmp_path / "remi"), sys.executable, "bot.py")
    ident = host.identify(pid)
    assert ident is not None
    os.kill(pid, signal.SIGKILL)
    host.lifecycle.wait_exit(ident, NOTICE_S)
    info = await asyncio.wait_for(exits.exited(ident), NOTICE_S)
    assert info.pid == pid and not info.known
    assert exits.watching() == 0
    exits.close()


async def test_many_deaths_are_awaited_together_and_leave_nothing(
        tmp_path: Path, exits: ExitWatch, spawned: list[ProcessIdentity]) -> None:
    """Twenty sleepers, two awaits on one of them: every death noticed, every handle
    given back (no registration, no open pidfd) once the awaits ended."""
    fds_before = open_fds()
    idents = [host.spawn(bot_target(tmp_path / f"remi{i}", SLEEPER)) for i in range(20)]
    spawned.extend(idents)
    waits = [asyncio.ensure_future(exits.exited(i)) for i in [*idents, idents[0]]]
    await asyncio.sleep(0.3)
    assert exits.watching() == 20 and not any(w.done() for w in waits)
    for ident in idents:
        os.kill(ident.pid, signal.SIGKILL)
    infos = await asyncio.wait_for(asyncio.gather(*waits), NOTICE_S)
    assert [i.pid for i in infos] == [i.pid for i in [*idents, idents[0]]]
    assert all(i.signal == signal.SIGKILL for i in infos)
    assert exits.watching() == 0
    assert open_fds() <= fds_before
    exits.close()


async def test_an_await_given_up_unregisters_the_process(
        tmp_path: Path, exits: ExitWatch, spawned: list[ProcessIdentity]) -> None:
    fds_before = open_fds()
    ident = host.spawn(bot_target(tmp_path / "remi", SLEEPER))
    spawned.append(ident)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(exits.exited(ident), 0.3)
    assert exits.watching() == 0 and open_fds() <= fds_before
    assert host.is_alive(ident)
    exits.close()


async def test_an_await_cancelled_while_it_registers_leaves_nothing(
        tmp_path: Path, exits: ExitWatch, spawned: list[ProcessIdentity]) -> None:
    fds_before = open_fds()
    ident = host.spawn(bot_target(tmp_path / "remi", SLEEPER))
    spawned.append(ident)
    waiting = asyncio.ensure_future(exits.exited(ident))
    await asyncio.sleep(0)  # registered, its kernel handle being taken in a thread
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    for _ in range(100):  # the handle arrives after the await gave up; it is let go
        await asyncio.sleep(0.02)
    assert exits.watching() == 0 and open_fds() <= fds_before
    exits.close()


@pytest.mark.skipif(best_mode() != "pidfd", reason="pidfd is Linux ≥ 5.3")
async def test_pidfd_waits_with_no_thread_at_all(tmp_path: Path,
                                                 spawned: list[ProcessIdentity]) -> None:
    """Only the identity check touches a thread; the wait itself is the loop's selector."""
    exits = ExitWatch(mode="pidfd")
    ident = host.spawn(bot_target(tmp_path / "remi", SLEEPER))
    spawned.append(ident)
    waiting = asyncio.ensure_future(exits.exited(ident))
    await asyncio.sleep(0.2)
    assert exits._poller is None
    assert exits.mode == "pidfd"
    os.kill(ident.pid, signal.SIGKILL)
    assert (await asyncio.wait_for(waiting, NOTICE_S)).signal == signal.SIGKILL
    exits.close()


async def test_a_closed_watch_cancels_its_awaits(tmp_path: Path, exits: ExitWatch,
                                                 spawned: list[ProcessIdentity]) -> None:
    ident = host.spawn(bot_target(tmp_path / "remi", SLEEPER))
    spawned.append(ident)
    waiting = asyncio.ensure_future(exits.exited(ident))
    await asyncio.sleep(0.2)
    exits.close()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, NOTICE_S)
    assert exits.watching() == 0
