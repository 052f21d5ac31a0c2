"""Issue 10's proof: planted secrets of every shape never leave, whatever path they take.

A Remi stand-in (the real beacon, discord.py's log layout and "Loop thread traceback"
warnings) whose stuck line holds a hard-coded ``client_id``, a ``Bearer`` literal and its
own token; secrets in Bubabot's environment, Remi's env, Remi's ``.env``, ``bot_error.log``,
a fatal-config traceback and the scan test's output. The real watcher inside local-mode
Bubabot goes through a hang, a restart, a failing scan, an error group and a fatal config
error; then every byte sent to the Discord emulator, every file the watcher wrote under
state_dir and workdir, the SQLite file (WAL included) and the CLI's ``health --json``,
``alerts --json``, ``errors`` and ``history`` are searched for every planted value.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bubabot_local.emulator import DiscordEmulator, patch_discord_py, unpatch_discord_py
from bubabot_local.mode import GENERAL, GUILD, QUICK_TASKS, VIEWER, YOU, World, build_world
from bubabot_local.simkit import processes_in
from bubabot_local.stackkit import channel_text, until

from bubabot.app import App, build_app
from remi_ops.config_file import load_settings
from remi_ops.domain import CheckTrigger
from remi_ops.host import reap_exited_children
from remi_ops.supervision.supervisor import State
from remi_ops.watch.watcher import STORE_NAME

pytestmark = pytest.mark.integration


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(n)).decode().rstrip("=")


def _token() -> str:
    return f"M{_b64(18)[:23]}.{_b64(6)[:6]}.{_b64(21)[:27]}"


def _word(prefix: str) -> str:
    return prefix + secrets.token_hex(8)


@dataclass(frozen=True)
class Planted:
    """Every secret, fresh per run; ``needles`` are what must never be found."""

    buba_env: str = _word("sk-bubabot-env-")  # OPENAI_API_KEY in Bubabot's environment
    remi_env: str = _word("remi-env-secret-")  # [targets.env] SESSION_SECRET
    dotenv_token: str = _token()  # DISCORD_TOKEN in Remi's .env
    dotenv_db: str = _word("db-pass-")  # DATABASE_PASSWORD in Remi's .env
    listed: str = _word("listed-")  # ODD_VALUE, named in secret_env
    client_id: str = _b64(15)  # hard-coded on the stuck line
    bearer: str = _word("bearer-literal-")  # hard-coded on the stuck line
    query: str = _word("qs-")
    hook: str = _b64(51)[:68]
    under: str = _token()
    pct22: str = _token()
    pct3d: str = _token()
    json_token: str = _token()
    split_token: str = _token()
    half_token: str = _token()
    aws: str = "AKIA" + secrets.token_hex(8).upper()
    cookie: str = _word("cookie-")
    set_cookie: str = _word("setcookie-")
    basic: str = _b64(18)
    bearer2: str = _word("bearer2-")
    dsn: str = _word("dsn-p@ss-")

    @property
    def needles(self) -> dict[str, str]:
        found = {k: v for k, v in vars(self).items() if isinstance(v, str)}
        found["half_token"] = self.half_token[self.half_token.index("."):]
        cut = len(self.split_token) // 2
        found["split_token"] = self.split_token[:cut]
        found["split_token (2nd half)"] = self.split_token[cut:]
        return found

    def shapes(self) -> str:
        """Pattern-shaped secrets (no known value covers them), one per line."""
        return "\n".join([
            f"401 for url: https://api.soundcloud.com/tracks?client_id=x&client_secret={self.query}",
            f"webhook https://discord.com/api/webhooks/123456789012345678/{self.hook}",
            f"env REMI_{self.under} q=%22{self.pct22}%22 token%3D{self.pct3d}",
            f'body {{\\"token\\": \\"{self.json_token}\\"}}',
            f"split {self.split_token[:len(self.split_token) // 2]}",
            f"{self.split_token[len(self.split_token) // 2:]} was split",
            f"half {self.half_token[self.half_token.index('.'):]}",
            f"aws {self.aws}",
            f"Cookie: theme=dark; sid={self.cookie}",
            f"Set-Cookie: session={self.set_cookie}; Path=/; HttpOnly",
            f"Authorization: Basic {self.basic}",
            f"Authorization: Bearer {self.bearer2}",
            f"db postgres://remi:{self.dsn}@db.internal:5432/remi",
            f"known {self.buba_env} {self.remi_env} {self.dotenv_db} {self.listed}",
        ])


REMI = '''\
"""A Remi stand-in: the beacon, discord.py's log layout and keep-alive warnings."""
import asyncio
import time
from pathlib import Path

from bubabot_local import remi_sim, remi_sim_faults as faults
from remi_ops import beacon


def fetch_track(url, headers, token):
    time.sleep(3600)  # a sync HTTP read nobody answers


async def main():
    remi_sim.setup_logging()
    beacon.start(interval_s=0.2, dump_after_s=0.5)
    faults.KeepAlive(asyncio.get_running_loop(), 0.05, 0.5).start()
    print("remi ready", flush=True)
    while True:
        await asyncio.sleep(0.1)
        if Path("hang").exists():
            Path("hang").unlink()
            STUCK_LINE


asyncio.run(main())
'''
#: the stuck line, one line long so that the stack shows all of it: the issue's hard-coded
#: client_id and Bearer literal, and Remi's own token
STUCK_LINE = ('fetch_track("https://api.soundcloud.com/tracks?client_id=CLIENT_ID", '
              '{"Authorization": "Bearer BEARER"}, "TOKEN")')
SCAN = '''\
import os, pathlib, sys
print("scanning as", os.environ["OPENAI_API_KEY"], os.environ["SESSION_SECRET"])
print(pathlib.Path(".env").read_text())
print(pathlib.Path("shapes.txt").read_text())
print("Traceback (most recent call last):")
print('  File "scan.py", line 3, in <module>')
print("RuntimeError: scan failed")
sys.exit(1)
'''
#: files in workdir that Remi or the test wrote (they hold secrets on purpose)
NOT_THE_WATCHERS = {"bot.log", "bot_error.log", ".env", "remi_bot.py", "shapes.txt",
                    ".remi_beacon.json", "hang", "__pycache__"}


@dataclass
class Stack:
    emulator: DiscordEmulator
    world: World
    app: App
    workdir: Path
    state: Path
    config: Path

    def channel_text(self, channel: int = QUICK_TASKS) -> str:
        return channel_text(self.emulator, channel)

    def remis(self) -> list[int]:
        return [p.pid for p in processes_in(self.workdir, "remi_bot.py")]



def write_config(tmp: Path, workdir: Path, world: World, planted: Planted) -> Path:
    discord = world.discord_settings()
    path = tmp / "bubabot.toml"
    path.write_text(f"""
[watchdog]
check_interval_s = 60
state_dir = {json.dumps(str(tmp / "state"))}

[[targets]]
name = "remi"
workdir = {json.dumps(str(workdir))}
command = {json.dumps([sys.executable, "remi_bot.py"])}
secret_env = ["ODD_VALUE"]
# Remi gets a clean environment: a value from Bubabot's only reaches it when named here
pass_env = ["OPENAI_API_KEY"]

[targets.env]
SESSION_SECRET = {json.dumps(planted.remi_env)}

[targets.restart]
stop_grace_s = 2
start_seconds = 0.5

[targets.health]
hang_threshold_s = 2.5

[targets.scan_test]
command = {json.dumps([sys.executable, "-c", SCAN])}
timeout_s = 10
expect_pattern = "scan ok"

[alerts]
group_wait_s = 0
group_interval_s = 0
keep_firing_for_s = 0
retry_initial_s = 0.2
retry_max_s = 1

[discord]
guild_id = {discord["guild_id"]}
alert_channel_id = {discord["alert_channel_id"]}
operator_role_ids = {json.dumps(discord["operator_role_ids"])}
viewer_role_ids = {json.dumps(discord["viewer_role_ids"])}
oncall_role_id = {discord["oncall_role_id"]}
""", encoding="utf-8")
    return path


@pytest.fixture
async def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                planted: Planted) -> AsyncIterator[Stack]:
    monkeypatch.setenv("OPENAI_API_KEY", planted.buba_env)
    monkeypatch.setenv("ODD_VALUE", planted.listed)
    workdir = tmp_path / "remi"
    workdir.mkdir()
    (workdir / "remi_bot.py").write_text(
        REMI.replace("STUCK_LINE", STUCK_LINE).replace("CLIENT_ID", planted.client_id)
        .replace("BEARER", planted.bearer).replace('"TOKEN"', json.dumps(planted.dotenv_token)),
        encoding="utf-8")
    (workdir / ".env").write_text(f'export DISCORD_TOKEN="{planted.dotenv_token}"\n'
                                  f"DATABASE_PASSWORD='{planted.dotenv_db}'\n", encoding="utf-8")
    (workdir / "shapes.txt").write_text(planted.shapes(), encoding="utf-8")
    emulator = DiscordEmulator()
    await emulator.start()
    patch_discord_py(emulator)
    world = build_world(emulator)
    config = write_config(tmp_path, workdir, world, planted)
    app = build_app(load_settings(config), client_options={"guild_ready_timeout": 0.05})
    await app.start(world.bubabot_token)
    stack = Stack(emulator, world, app, workdir, tmp_path / "state", config)
    try:
        await until(lambda: emulator.is_connected(bot_token=world.bubabot_token), what="bubabot")
        await until(lambda: app.watcher.watch(None).supervisor.state is State.RUNNING,
                    what="remi")
        yield stack
    finally:
        await app.close()
        for pid in stack.remis():
            os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.1)
        reap_exited_children()
        await emulator.stop()
        unpatch_discord_py()


@pytest.fixture
def planted() -> Planted:
    return Planted()


def stamp() -> str:
    """Now, as discord.py's log layout writes it (local time)."""
    return time.strftime("%Y-%m-%d %H:%M:%S")


def fatal_config_record(token: str) -> str:
    return (f"[{stamp()}] [ERROR   ] discord.client: Improper token has been passed.\n"
            "Traceback (most recent call last):\n"
            '  File "/srv/remi/main.py", line 12, in <module>\n'
            f'    client.run("{token}")\n'
            "discord.errors.LoginFailure: Improper token has been passed.\n")


def error_record(planted: Planted) -> str:
    return (f"[{stamp()}] [ERROR   ] remi.scoring: upload failed\n"
            "Traceback (most recent call last):\n"
            '  File "/srv/remi/soundcloud_client.py", line 41, in fetch_track\n'
            "    resp = session.get(url)\n"
            "requests.exceptions.HTTPError: " + planted.shapes() + "\n")


async def slash(stack: Stack, name: str, channel: int, user: int, **options: Any) -> None:
    interaction = await stack.emulator.invoke_slash(
        guild_id=GUILD, channel_id=channel, user_id=user, name=name, options=options,
        bot_token=stack.world.bubabot_token)
    await stack.emulator.wait_for_response(interaction, timeout=20)


def cli(config: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "remi_ops.cli.main", "--config", str(config),
                           *args], capture_output=True, text=True, timeout=120, check=False)
    return f"$ remi-ops {' '.join(args)} → {done.returncode}\n{done.stdout}\n{done.stderr}"


def watcher_files(stack: Stack) -> dict[str, bytes]:
    """Every file under state_dir, and every file in workdir that Remi did not write."""
    found = {str(p): p.read_bytes() for p in stack.state.rglob("*") if p.is_file()}
    found.update({str(p): p.read_bytes() for p in stack.workdir.rglob("*")
                  if p.is_file() and not set(p.relative_to(stack.workdir).parts)
                  & NOT_THE_WATCHERS})
    return found


def leaks(planted: Planted, where: dict[str, bytes]) -> list[str]:
    return [f"{name} in {place}" for place, data in where.items()
            for name, needle in planted.needles.items() if needle.encode() in data]


async def test_no_planted_secret_leaves_through_any_path(stack: Stack, planted: Planted) -> None:
    """Hang + restart + scan + error group + fatal config, then search every output."""
    old = stack.remis()[0]
    (stack.workdir / "hang").touch()
    await until(lambda: json.loads((stack.workdir / ".remi_beacon.json").read_text())
                .get("stuck_stack"), what="the beacon's stuck stack")
    await slash(stack, "remi-health", GENERAL, VIEWER)  # a viewer, in another channel
    await until(lambda: [p for p in stack.remis() if p != old], what="the restart")
    await until(lambda: "restarted (hang" in stack.channel_text(), what="the restart report")
    await until(lambda: "scan" in stack.channel_text().lower() and "failed"
                in stack.channel_text(), what="the failed scan report")
    with (stack.workdir / "bot_error.log").open("a", encoding="utf-8") as fh:
        fh.write(error_record(planted))
    watch = stack.app.watcher.watch(None)
    await asyncio.to_thread(watch.check, CheckTrigger.OPERATOR)
    await until(lambda: "HTTPError" in stack.channel_text(), what="the error-group alert")
    with (stack.workdir / "bot_error.log").open("a", encoding="utf-8") as fh:
        fh.write(fatal_config_record(planted.dotenv_token))
    await asyncio.to_thread(watch.check, CheckTrigger.OPERATOR)
    await until(lambda: "LoginFailure" in stack.channel_text() or "fatal configuration"
                in stack.channel_text(), what="the fatal-config alert")
    for name, channel, user, opts in (("remi-health", QUICK_TASKS, YOU, {}),
                                      ("remi-errors", QUICK_TASKS, YOU, {"since": "24h"}),
                                      ("remi-history", GENERAL, VIEWER, {"since": "24h"})):
        await slash(stack, name, channel, user, **opts)

    cli_out = {args: await asyncio.to_thread(cli, stack.config, *args.split())
               for args in ("health --json", "alerts --json", "errors --since all",
                            "errors --since all --json", "history", "history --json",
                            "status --json")}
    sent = b"\n".join(r.body for r in stack.emulator.requests)
    everything = {"sent to Discord": sent, **watcher_files(stack),
                  **{f"remi-ops {k}": v.encode() for k, v in cli_out.items()}}

    # the paths were taken: the evidence is there, only its secrets are not
    quick = stack.channel_text()
    assert "fetch_track" in quick and "[REDACTED" in quick
    assert "HTTPError" in quick
    assert "fetch_track" in stack.channel_text(GENERAL)
    assert "scanning as [REDACTED" in quick, "the failed scan's output was posted"
    assert "LoginFailure" in cli_out["alerts --json"] or "LoginFailure" in quick
    assert {STORE_NAME, f"{STORE_NAME}-wal"} <= {Path(p).name for p in everything}
    assert "[REDACTED" in cli_out["errors --since all --json"]
    assert "HTTPError" in cli_out["errors --since all"]
    assert not leaks(planted, everything), leaks(planted, everything)
    await stack.app.close()  # the WAL checkpointed into the database file: search it again
    assert not leaks(planted, watcher_files(stack))
