"""The Remi simulator as a real process: starts, logs like discord.py, misbehaves on request."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil
import pytest
from bubabot_local import remi_sim, remi_sim_faults
from bubabot_local.remi_sim_faults import CHILD_PID_FILE, parse_control

from remi_ops.beacon import BeaconReading, read_beacon
from remi_ops.testing import wait_until as wait_for

ROOT = Path(__file__).resolve().parents[2]
CONNECTED = "discord.gateway: Shard ID None has connected to Gateway (Session ID: "
FAST = ["--heartbeat-interval-s", "0.05", "--heartbeat-warn-s", "0.3",
        "--beacon-interval-s", "0.1", "--beacon-dump-after-s", "0.3"]



def stuck_reading(path: Path) -> BeaconReading | None:
    """A beacon reading that carries a stuck stack, else None."""
    found = read_beacon(path, time.time())
    return found if found is not None and found.stuck_stack else None


@dataclass
class Sim:
    """One running simulator and where its output goes."""

    proc: subprocess.Popen[bytes]
    workdir: Path
    files: tuple[IO[bytes], ...]

    @property
    def stderr(self) -> str:
        return (self.workdir / "bot_error.log").read_text(encoding="utf-8", errors="replace")

    @property
    def stdout(self) -> str:
        return (self.workdir / "bot.log").read_text(encoding="utf-8", errors="replace")

    def control(self, *commands: dict[str, Any]) -> None:
        """Write commands as JSON lines, atomically, where the simulator polls."""
        text = "".join(json.dumps(c) + "\n" for c in commands)
        remi_sim_faults.write_atomically(self.workdir / remi_sim.CONTROL_FILE, text)

    def connected(self) -> Sim:
        wait_for(lambda: CONNECTED in self.stderr)
        return self

    def exit_code(self, timeout: float = 4.0) -> int:
        return self.proc.wait(timeout=timeout)


StartSim = Callable[..., Sim]


@pytest.fixture
def start_sim(tmp_path: Path) -> Iterator[Callable[..., Sim]]:
    """Start simulators in tmp_path (stdout → bot.log, stderr → bot_error.log); always reaped."""
    sims: list[Sim] = []

    def start(*args: str) -> Sim:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REMI_", "BUBABOT_"))}
        env |= {"PYTHONPATH": str(ROOT), "REMI_BEACON_FILE": str(tmp_path / "beacon.json")}
        out, err = (tmp_path / "bot.log").open("ab"), (tmp_path / "bot_error.log").open("ab")
        proc = subprocess.Popen([sys.executable, "-m", "bubabot_local.remi_sim", "run", *args],
                                cwd=tmp_path, env=env, stdout=out, stderr=err)
        sims.append(Sim(proc, tmp_path, (out, err)))
        return sims[-1]

    yield start
    for sim in sims:
        sim.proc.kill()
        sim.proc.wait(timeout=5)
        for handle in sim.files:
            handle.close()
    pid_file = tmp_path / CHILD_PID_FILE
    if pid_file.exists():
        with contextlib.suppress(psutil.Error, ValueError):
            psutil.Process(int(pid_file.read_text())).kill()


@pytest.mark.integration
def test_starts_logging_like_discord_py_and_says_it_is_not_remi(start_sim: StartSim) -> None:
    """The connected line in discord.py's layout, the NOT-Remi notice, stdout, a fresh beacon."""
    sim = start_sim().connected()
    lines = sim.stderr.splitlines()
    assert any(" [INFO    ] discord.client: logging in using static token" in ln for ln in lines)
    assert all(ln.startswith("[20") for ln in lines)
    assert "NOT Remi" in sim.stderr
    assert "online" in wait_for(lambda: sim.stdout)
    reading = wait_for(lambda: read_beacon(sim.workdir / "beacon.json", time.time()))
    assert reading.pid == sim.proc.pid
    assert reading.age_s < 3


@pytest.mark.integration
def test_sigterm_shuts_down_cleanly(start_sim: StartSim) -> None:
    """SIGTERM → a log line, exit 0 and a beacon marked stopped."""
    sim = start_sim().connected()
    sim.proc.send_signal(signal.SIGTERM)
    assert sim.exit_code() == 0
    assert "Received SIGTERM; shutting down cleanly" in sim.stderr
    reading = read_beacon(sim.workdir / "beacon.json", time.time())
    assert reading is not None
    assert reading.stopped


@pytest.mark.integration
def test_control_crash_exits_1_with_a_traceback(start_sim: StartSim) -> None:
    """{"do": "crash"} → an unhandled exception: interpreter traceback, exit 1; file consumed."""
    sim = start_sim().connected()
    sim.control({"do": "crash"})
    assert sim.exit_code() == 1
    assert "Traceback (most recent call last):" in sim.stderr
    assert "SimulatedCrash: simulated crash" in sim.stderr
    assert not (sim.workdir / remi_sim.CONTROL_FILE).exists()


@pytest.mark.integration
def test_control_exit_uses_the_given_code(start_sim: StartSim) -> None:
    """{"do": "exit", "code": 7} → exit code 7."""
    sim = start_sim().connected()
    sim.control({"do": "exit", "code": 7})
    assert sim.exit_code() == 7


@pytest.mark.integration
@pytest.mark.parametrize(("args", "code"), [
    (["--exit-after", "0.2", "--exit-code", "5"], 5),
    (["--crash-after", "0.2"], 1),
])
def test_faults_scheduled_on_the_command_line(start_sim: StartSim, args: list[str],
                                              code: int) -> None:
    """--exit-after/--exit-code and --crash-after fire by themselves."""
    assert start_sim(*args).exit_code() == code


@pytest.mark.integration
def test_traceback_every_repeats_the_error(start_sim: StartSim) -> None:
    """--traceback-every S logs the NameError again and again while the bot stays up."""
    sim = start_sim("--traceback-every", "0.2")
    wait_for(lambda: sim.stderr.count("NameError: name 'asyncio' is not defined") >= 2)
    assert sim.proc.poll() is None


@pytest.mark.integration
def test_hang_blocks_the_loop_with_heartbeat_warnings_and_a_stale_beacon(
        start_sim: StartSim) -> None:
    """{"do": "hang"} → discord.py-style "heartbeat blocked" warnings naming fetch_track, and
    a beacon whose writes stay fresh while its beats go stale, with the stuck stack."""
    sim = start_sim(*FAST).connected()
    sim.control({"do": "hang", "seconds": 30})
    wait_for(lambda: sim.stderr.count("heartbeat blocked for more than") >= 2)
    err = sim.stderr
    assert "[WARNING ] discord.gateway: Shard ID None heartbeat blocked for more than 0.3 " \
           "seconds.\nLoop thread traceback (most recent call last):\n" in err
    assert "in fetch_track" in err
    assert "in score_track_sync" in err
    assert "blocked for more than 0.6 seconds." in err
    reading = wait_for(lambda: stuck_reading(sim.workdir / "beacon.json"))
    assert "in fetch_track" in (reading.stuck_stack or "")
    assert reading.age_s < 1.0
    assert reading.beat_age_s > 0.3
    assert sim.proc.poll() is None  # alive but stuck: the incident


@pytest.mark.integration
def test_short_hang_ends_and_the_loop_catches_up(start_sim: StartSim) -> None:
    """A hang with a duration ends; the bot says it could not keep up and then obeys again."""
    sim = start_sim(*FAST).connected()
    sim.control({"do": "hang", "seconds": 0.5})
    wait_for(lambda: "Can't keep up, shard ID None websocket is" in sim.stderr)
    sim.control({"do": "exit", "code": 3})
    assert sim.exit_code() == 3


@pytest.mark.integration
def test_error_logs_the_incidents_name_error(start_sim: StartSim) -> None:
    """{"do": "error"} → an ERROR record from remi.scoring with the scoring_async traceback."""
    sim = start_sim().connected()
    sim.control({"do": "error"})
    err = wait_for(lambda: sim.stderr if "NameError" in sim.stderr else None)
    assert "[ERROR   ] remi.scoring: " in err
    assert "/packages/core/analyzers/scoring_async.py\", line" in err
    assert "in score_batch_async\n    results = await asyncio.gather(*tasks)" in err
    assert "NameError: name 'asyncio' is not defined" in err
    assert sim.proc.poll() is None


@pytest.mark.integration
def test_gateway_and_log_commands_write_discord_py_lines(start_sim: StartSim) -> None:
    """{"do": "gateway"} and {"do": "log"} produce lines in discord.py's layout."""
    sim = start_sim().connected()
    sim.control({"do": "gateway", "event": "resumed"},
                {"do": "log", "level": "warning", "logger": "remi.enrich", "message": "slow"})
    wait_for(lambda: "remi.enrich: slow" in sim.stderr)
    assert "[INFO    ] discord.gateway: Shard ID None has successfully RESUMED session " \
           in sim.stderr
    assert "[WARNING ] remi.enrich: slow" in sim.stderr


@pytest.mark.integration
def test_spawn_child_leaves_a_live_grandchild(start_sim: StartSim) -> None:
    """{"do": "spawn_child"} → a sleeping child of the simulator, its pid in a file."""
    sim = start_sim().connected()
    sim.control({"do": "spawn_child"})
    pid_file = sim.workdir / CHILD_PID_FILE
    wait_for(pid_file.exists)
    pid = int(pid_file.read_text())
    child = psutil.Process(pid)
    assert child.is_running()
    assert child.ppid() == sim.proc.pid


@pytest.mark.integration
def test_scan_mode_is_persisted_for_the_scan_subcommand(start_sim: StartSim) -> None:
    """{"do": "scan_mode", "mode": "fail"} → the out-of-band scan fails with the NameError."""
    sim = start_sim().connected()
    sim.control({"do": "scan_mode", "mode": "fail"})
    wait_for(lambda: "scan mode is now fail" in sim.stderr)
    scan = subprocess.run([sys.executable, "-m", "bubabot_local.remi_sim", "scan"],
                          cwd=sim.workdir, capture_output=True, text=True, timeout=10,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert scan.returncode == 1
    assert "NameError: name 'asyncio' is not defined" in scan.stderr


@pytest.mark.integration
def test_bad_control_input_is_logged_and_ignored(start_sim: StartSim) -> None:
    """Garbage, unknown commands and bad arguments warn; the simulator keeps running."""
    sim = start_sim().connected()
    path = sim.workdir / remi_sim.CONTROL_FILE
    remi_sim_faults.write_atomically(path, 'not json\n{"do": "dance"}\n'
                                           '{"do": "scan_mode", "mode": "sideways"}\n')
    wait_for(lambda: "bad control command" in sim.stderr)
    assert "ignoring control input: line 1 is not JSON" in sim.stderr
    assert "unknown control command" in sim.stderr
    sim.control({"do": "exit", "code": 4})
    assert sim.exit_code() == 4


# --------------------------------------------------------------------------- in-process


@pytest.mark.parametrize(("text", "count", "problems"), [
    ('{"do": "crash"}', 1, 0),
    ('[{"do": "hang", "seconds": 3}, {"do": "error"}]', 2, 0),
    ('{"do": "error"}\n\n{"do": "exit", "code": 2}\n', 2, 0),
    ('{"do": "error"}\n{oops\n', 1, 1),
    ("42", 0, 1),
    ("   ", 0, 0),
])
def test_parse_control(text: str, count: int, problems: int) -> None:
    """One object, a list, or JSON lines; garbage becomes a problem, not an exception."""
    commands, found = parse_control(text)
    assert (len(commands), len(found)) == (count, problems)


def test_scan_pass_prints_the_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """scan in pass mode prints the line the scan test expects and exits 0."""
    assert remi_sim.scan("https://soundcloud.com/a/b", None, tmp_path) == 0
    assert capsys.readouterr().out == "scan ok: https://soundcloud.com/a/b score=87 (simulated)\n"


def test_scan_fail_prints_the_incident_traceback(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """scan in fail mode prints the NameError traceback with Remi's file and line."""
    remi_sim_faults.save_scan_mode(tmp_path, "fail")
    assert remi_sim.scan("u", None, tmp_path) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert str(tmp_path / "packages/core/analyzers/scoring_async.py") in err
    assert err.rstrip().endswith("NameError: name 'asyncio' is not defined")


def test_unknown_scan_mode_reads_as_pass(tmp_path: Path) -> None:
    """A garbled state file does not break the scan path."""
    (tmp_path / remi_sim_faults.STATE_FILE).write_text("{garbled")
    assert remi_sim_faults.load_scan_mode(tmp_path) == "pass"
    with pytest.raises(ValueError, match="scan mode"):
        remi_sim_faults.save_scan_mode(tmp_path, "sideways")


def test_plain_mode_never_imports_discord() -> None:
    """Only --discord loads discord.py; the plain simulator starts without it."""
    code = ("import sys, bubabot_local.remi_sim as s; "
            "s.build_parser().parse_args(['run']); assert 'discord' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=10,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})


# --------------------------------------------------------------------------- --discord

GUILD = 1_190_000_000_000_000_001
CHANNEL = 1_190_000_000_000_000_002
PERSON = 1_190_000_000_000_000_003
REMI_ID = 1_190_000_000_000_000_004
REMI_TOKEN = "remi.sim.emulated-token-7d1e"


async def poll(probe: Callable[[], bool], timeout: float = 4.0) -> None:
    """Like wait_for, but yields to the loop the emulator serves on."""
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


@pytest.mark.integration
@pytest.mark.timeout(20)
async def test_discord_mode_answers_scan_and_fails_like_the_incident(tmp_path: Path) -> None:
    """--discord: a real discord.py client logs in to the emulator; /scan answers with a score
    embed, then (scan mode fail) dies in the command with the NameError; SIGTERM → exit 0."""
    from bubabot_local.emulator import DiscordEmulator  # noqa: PLC0415 - needs aiohttp/discord

    async with DiscordEmulator() as emulator:
        emulator.add_guild(GUILD)
        emulator.add_channel(GUILD, CHANNEL, "scans")
        emulator.add_member(GUILD, PERSON, "jordan")
        emulator.add_bot(REMI_TOKEN, REMI_ID, "Remi")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REMI_", "BUBABOT_"))}
        env |= {**emulator.env(), "PYTHONPATH": str(ROOT), "REMI_DISCORD_TOKEN": REMI_TOKEN,
                "REMI_BEACON_FILE": str(tmp_path / "beacon.json")}
        with (tmp_path / "bot_error.log").open("ab") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bubabot_local.remi_sim", "run", "--discord",
                 "--guild-id", str(GUILD)], cwd=tmp_path, env=env,
                stdout=subprocess.DEVNULL, stderr=err)
        sim = Sim(proc, tmp_path, ())
        try:
            await poll(lambda: emulator.sync_count(REMI_ID, GUILD) > 0)
            await poll(lambda: CONNECTED in sim.stderr)  # READY may come after the sync
            scanned = await emulator.invoke_slash(
                guild_id=GUILD, channel_id=CHANNEL, user_id=PERSON, name="scan",
                options={"url": "https://soundcloud.com/a/b"}, bot_token=REMI_TOKEN)
            await emulator.wait_for_response(scanned)
            embed = next(m for m in scanned.messages() if m.embeds).embeds[0]
            assert embed["fields"][0]["value"] == "87/100"

            sim.control({"do": "scan_mode", "mode": "fail"})
            await poll(lambda: "scan mode is now fail" in sim.stderr)
            await emulator.invoke_slash(
                guild_id=GUILD, channel_id=CHANNEL, user_id=PERSON, name="scan",
                options={"url": "https://soundcloud.com/a/b"}, bot_token=REMI_TOKEN)
            await poll(lambda: "NameError: name 'asyncio' is not defined" in sim.stderr)
            assert "discord.app_commands.tree: Ignoring exception in command 'scan'" in sim.stderr

            proc.send_signal(signal.SIGTERM)
            await poll(lambda: proc.poll() is not None)
            assert proc.returncode == 0
        finally:
            proc.kill()
            proc.wait(timeout=5)
