"""Regenerate the sample logs in this folder from real discord.py and real Python tracebacks.

Run from the repository root with ``TZ=UTC .venv/bin/python tests/data/logs/generate.py``.
A fake Remi tree (``packages/bot``, ``packages/core``) and a fake ``requests``/``urllib3``
are written to a temporary directory, real code raises real exceptions through real
discord.py frames, and discord.py's own formatters (plain and ANSI) print them. Paths are
then rewritten to look like Remi's Mac: ``/Users/remi/projects/remix-sniper``.
"""

# ruff: noqa: E501 - the fake sources keep their long lines: they show up in tracebacks
# ruff: noqa: PLC0415 - the fake Remi modules exist only once the temp tree is on sys.path

from __future__ import annotations

import asyncio
import io
import logging
import os
import runpy
import socket
import sys
import sysconfig
import tempfile
import textwrap
import threading
import time
import traceback
import types
from calendar import timegm
from pathlib import Path
from typing import Any

import discord
import discord.backoff
import discord.http
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.utils import _ColourFormatter

OUT = Path(__file__).resolve().parent
REMI = "/Users/remi/projects/remix-sniper"
SITE = f"{REMI}/venv/lib/python3.11/site-packages"
STDLIB = "/opt/homebrew/Cellar/python@3.11/3.11.7/Frameworks/Python.framework/Versions/3.11/lib/python3.11"
PLAIN = logging.Formatter("[{asctime}] [{levelname:<8}] {name}: {message}", "%Y-%m-%d %H:%M:%S",
                          style="{")
CLOCK = [0.0]
ORIGINAL_LOGIN = discord.Client.login

FILES = {
    "packages/core/analyzers/scoring_async.py": '''
        """Async batch scoring (the incident's version: ``import asyncio`` is missing)."""
        from concurrent.futures import ThreadPoolExecutor


        def score_track(track):
            return {"id": track["id"], "score": len(track["title"]) / 10}


        async def _score_one(track):
            return score_track(track)


        async def score_batch_async(tracks):
            tasks = [_score_one(t) for t in tracks]
            return await asyncio.gather(*tasks)
    ''',
    "packages/core/soundcloud_client.py": '''
        """SoundCloud client (the incident's version: synchronous HTTP on the event loop)."""
        import requests

        API = "https://api-v2.soundcloud.com"


        class SoundCloudClient:
            def __init__(self, client_id):
                self.client_id = client_id

            def fetch_track(self, track_id):
                resp = requests.get(f"{API}/tracks/{track_id}", params={"client_id": self.client_id}, timeout=30)
                return resp.json()
    ''',
    "packages/bot/cogs/scan.py": '''
        """The /scan cog."""
        from analyzers.scoring_async import score_batch_async
        from soundcloud_client import SoundCloudClient

        client = SoundCloudClient("x")


        async def scan(interaction, url: str = "https://soundcloud.com/remi/likes"):
            tracks = [{"id": i, "title": f"track {i}"} for i in range(3)]
            results = await score_batch_async(tracks)
            return results


        async def enrich(interaction, track_ids):
            return [client.fetch_track(t) for t in track_ids]


        async def scan_slow(interaction, url: str = "https://soundcloud.com/remi/likes"):
            tracks = await enrich(interaction, [1184729384])
            return tracks
    ''',
    "packages/bot/main.py": '''
        """Remi's entry point."""
        import os

        import discord

        intents = discord.Intents.default()
        intents.message_content = True
        client = discord.Client(intents=intents)
        client.run(os.environ.get("DISCORD_TOKEN", "not-a-token"), log_handler=None)
    ''',
    "shim/tree.py": '''
        """Stand-in for discord/app_commands/tree.py: how a slash command is dispatched."""


        async def _call(command, interaction):
            return await command._do_call(interaction, {})


        async def _dispatch_from_interaction(command, interaction, on_error):
            try:
                await _call(command, interaction)
            except Exception as e:
                await on_error(interaction, command, e)
    ''',
    "shim/gateway.py": '''
        """Stand-in for discord/gateway.py: DiscordWebSocket.from_client."""
        import aiohttp

        CALLS = [0]


        async def from_client(client, *, initial=False, gateway=None, shard_id=None, session=None,
                              sequence=None, resume=False, encoding="json", compress=True):
            CALLS[0] += 1
            if CALLS[0] == 1:
                async with aiohttp.ClientSession() as http:
                    socket = await http.ws_connect("ws://127.0.0.1:9/?v=10&encoding=json")
            raise client.CLOSED
    ''',
    "packages/bot/main_blocked.py": '''
        """Remi's entry point, as it was when a /scan blocked the event loop."""
        import asyncio

        import discord
        import tree

        from cogs import scan

        client = discord.Client(intents=discord.Intents.default())
        command = discord.app_commands.Command(name="scan", description="Scan", callback=scan.scan_slow)


        async def on_error(interaction, command, error):
            pass


        async def start(token, *, reconnect=True):
            client._schedule_event(tree._dispatch_from_interaction, "interaction", command, None, on_error)
            await asyncio.sleep(0.5)


        client.start = start
        client.run(TOKEN, log_handler=None)
    ''',
    "packages/core/pipeline.py": '''
        """Remi's scan pipeline, logging with its own (basicConfig-style) configuration."""
        import asyncio
        import logging

        log = logging.getLogger("remi.scan")


        async def fetch_all(track_ids):
            await asyncio.sleep(5)


        async def enrich_tracks(track_ids):
            return await asyncio.wait_for(fetch_all(track_ids), timeout=0.01)


        def score_from_cache(cache, track_id):
            try:
                return cache[f"track:{track_id}"]
            except KeyError:
                raise RuntimeError("cache is corrupt")


        def run_scan(track_ids, tick):
            tick()
            log.info("Scanning %d tracks for user %s", len(track_ids), 1184729384756)
            try:
                asyncio.run(enrich_tracks(track_ids))
            except TimeoutError:
                tick()
                log.exception("Enrichment timed out after %ss", 120)
            try:
                score_from_cache({}, 123)
            except RuntimeError:
                tick()
                log.exception("Scoring failed for track %s", 123)
            tick()
            log.warning("SoundCloud responded with 429, backing off 30s")
            tick()
            log.error("Scan of https://soundcloud.com/remi/sets/x failed: no tracks found")
    ''',
    "site/requests/__init__.py": "from .api import get\n",
    "site/requests/api.py": '''
        from . import sessions


        def request(method, url, **kwargs):
            with sessions.Session() as session:
                return session.request(method=method, url=url, **kwargs)


        def get(url, params=None, **kwargs):
            return request("get", url, params=params, **kwargs)
    ''',
    "site/requests/sessions.py": '''
        from .adapters import HTTPAdapter


        class Session:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def request(self, method, url, params=None, timeout=None, **kwargs):
                prep = (method.upper(), url, params)
                resp = self.send(prep, timeout=timeout)
                return resp

            def send(self, request, **kwargs):
                adapter = HTTPAdapter()
                r = adapter.send(request, **kwargs)
                return r
    ''',
    "site/requests/adapters.py": '''
        from urllib3.connectionpool import HTTPSConnectionPool


        class HTTPAdapter:
            def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
                conn = HTTPSConnectionPool("api-v2.soundcloud.com", 443)
                resp = conn.urlopen(method=request[0], url=request[1], timeout=timeout)
                return resp
    ''',
    "site/urllib3/__init__.py": "",
    "site/urllib3/connectionpool.py": '''
        import socket

        BLOCK = []


        class HTTPResponse:
            def json(self):
                return {"id": 123456789, "title": "track"}


        class HTTPSConnectionPool:
            def __init__(self, host, port):
                self.host, self.port = host, port

            def _make_request(self, conn, method, url, timeout=None):
                conn.makefile("rb").readline()
                return HTTPResponse()

            def urlopen(self, method, url, timeout=None, **kw):
                conn = BLOCK[0]
                response = self._make_request(conn, method, url, timeout=timeout)
                return response
    ''',
}


class _Clock(logging.Filter):
    """Stamp records with the scripted time instead of now."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.created = CLOCK[0]
        record.msecs = (CLOCK[0] % 1) * 1000
        return True


def at(hms: str) -> None:
    CLOCK[0] = timegm(time.strptime(f"2026-01-24 {hms}", "%Y-%m-%d %H:%M:%S")) + 0.123


def write_tree(root: Path) -> None:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


class Capture:
    """A handler on the ``discord`` and ``remi`` loggers writing to a string."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.buf = io.StringIO()
        self.handler = logging.StreamHandler(self.buf)
        self.handler.setFormatter(formatter)
        self.handler.addFilter(_Clock())

    def __enter__(self) -> Capture:
        for name in ("discord", "remi"):
            lg = logging.getLogger(name)
            lg.addHandler(self.handler)
            lg.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in ("discord", "remi"):
            logging.getLogger(name).removeHandler(self.handler)

    def raw(self, text: str) -> None:
        """Text written to stderr by the interpreter (uncaught exceptions)."""
        self.handler.flush()
        self.buf.write(text)


def blocked_stack(root: Path) -> str:
    """The loop thread's stack while fetch_track blocks in a socket read, seen from a thread."""
    import urllib3.connectionpool as pool  # type: ignore[import-not-found]  # the fake module exists only in the temp tree

    a, b = socket.socketpair()
    pool.BLOCK.append(a)
    main_id = threading.get_ident()
    captured: list[str] = []

    def grab() -> None:
        time.sleep(0.3)
        frame = sys._current_frames()[main_id]
        entries = traceback.format_stack(frame)
        first = next(i for i, e in enumerate(entries) if "main_blocked.py\", line" in e)
        captured.append("".join(entries[first:]))
        b.sendall(b"HTTP/1.1 200 OK\r\n")

    threading.Thread(target=grab).start()
    runpy.run_path(str(root / "packages/bot/main_blocked.py"), init_globals={"TOKEN": "x"},
                   run_name="__main__")
    while not captured:
        time.sleep(0.05)
    return captured[0]


def incident(cap: Capture, root: Path, stack: str) -> None:
    """Start, the NameError in /scan, the blocked loop, a 429, the resume."""
    import tree  # type: ignore[import-not-found]  # the fake module exists only in the temp tree
    from cogs import scan  # type: ignore[import-not-found]  # the fake module exists only in the temp tree

    log_client = logging.getLogger("discord.client")
    log_gw = logging.getLogger("discord.gateway")
    log_http = logging.getLogger("discord.http")
    log_tree = logging.getLogger("discord.app_commands.tree")
    at("02:58:01")
    # discord.Client() warns once per process; the generator created one already
    log_client.warning("PyNaCl is not installed, voice will NOT be supported")
    log_client.warning("davey is not installed, voice will NOT be supported")
    log_client.info("logging in using static token")
    at("02:58:03")
    log_gw.info("Shard ID %s has connected to Gateway (Session ID: %s).", None,
                "8c3f5e6b2d9a4f1e0b7c6d5a4e3f2a1b")
    at("03:01:10")
    cmd: app_commands.Command[Any, ..., Any] = app_commands.Command(
        name="scan", description="Scan a SoundCloud URL",
                               callback=scan.scan)

    async def on_error(interaction: object, command: object, error: BaseException) -> None:
        log_tree.error("Ignoring exception in command %r", cmd.name, exc_info=error)

    asyncio.run(tree._dispatch_from_interaction(cmd, None, on_error))
    msg = "Shard ID %s heartbeat blocked for more than %s seconds."
    for i, hms in enumerate(("03:02:10", "03:02:20", "03:02:30"), start=1):
        at(hms)
        log_gw.warning(f"{msg}\nLoop thread traceback (most recent call last):\n{stack}", None,
                       i * 10)
    at("03:02:31")
    log_gw.warning("Can't keep up, shard ID %s websocket is %.1fs behind.", None, 31.4)
    at("03:03:05")
    log_gw.warning("Shard ID %s has stopped responding to the gateway. Closing and restarting.",
                   None)
    at("03:16:10")
    log_gw.warning(f"{msg}\nLoop thread traceback (most recent call last):\n{stack}", None, 850)
    at("03:16:40")
    log_http.warning("We are being rate limited. %s %s responded with 429. Retrying in %.2f "
                     "seconds.", "POST", "https://discord.com/api/v10/interactions/"
                     "1331234567890123456/aW50ZXJhY3Rpb246MTMzMQ/callback", 1.52)
    at("03:16:41")
    log_gw.info("Shard ID %s has successfully RESUMED session %s.", None,
                "8c3f5e6b2d9a4f1e0b7c6d5a4e3f2a1b")
    at("03:20:02")
    log_http.warning("Global rate limit has been hit. Retrying in %.2f seconds.", 0.84)
    log_gw.warning("WebSocket in shard ID %s is ratelimited, waiting %.2f seconds", None, 12.4)
    at("03:31:00")
    log_gw.info("Shard ID %s session has been invalidated.", None)
    at("03:31:02")
    log_gw.info("Shard ID %s has connected to Gateway (Session ID: %s).", None,
                "0f9e8d7c6b5a49382716051a2b3c4d5e")


def run_client(cap: Capture, root: Path) -> None:
    """Run main.py as ``python packages/bot/main.py`` would; print what escapes like Python."""
    try:
        runpy.run_path(str(root / "packages/bot/main.py"), run_name="__main__")
    except BaseException:  # the interpreter prints it to stderr and exits 1
        cap.raw(drop_frames(traceback.format_exc(), ("generate.py", "<frozen runpy>")))


def gateway_close(cap: Capture, root: Path, code: int) -> None:
    """A real client.run(): login ok, one refused connection, then a gateway close ``code``."""
    import gateway  # type: ignore[import-not-found]  # the fake module exists only in the temp tree

    async def fake_login(self: discord.Client, token: str) -> None:
        logging.getLogger("discord.client").info("logging in using static token")
        self.ws = types.SimpleNamespace(  # type: ignore[assignment]  # a stand-in for the gateway
            sequence=None, gateway="wss://gateway.discord.gg", session_id=None, open=False)

    sock = type("Sock", (), {"close_code": code})()
    discord.Client.CLOSED = discord.ConnectionClosed(sock, shard_id=None)  # type: ignore[attr-defined]  # read by the fake gateway
    gateway.CALLS[0] = 0
    discord.backoff.ExponentialBackoff.delay = lambda self: 1.37  # type: ignore[method-assign,assignment]  # a fixed delay in the log
    discord.Client.login = fake_login  # type: ignore[method-assign]  # no HTTP login
    DiscordWebSocket.from_client = classmethod(  # type: ignore[method-assign,assignment]  # the fake gateway
        lambda cls, client, **kw: gateway.from_client(client, **kw))
    at("04:10:00")
    run_client(cap, root)


def login_failure(cap: Capture, root: Path) -> None:
    """A real client.run() with a token the API rejects (401)."""
    class Resp:
        status = 401
        reason = "Unauthorized"

    async def fake_request(self: object, route: object, **kwargs: object) -> None:
        raise discord.HTTPException(Resp(), {"message": "401: Unauthorized", "code": 0})

    discord.Client.login = ORIGINAL_LOGIN  # type: ignore[method-assign]  # undo gateway_close()'s fake login
    discord.http.HTTPClient.request = fake_request  # type: ignore[method-assign]  # the API answers 401
    at("05:00:00")
    run_client(cap, root)


def drop_frames(text: str, markers: tuple[str, ...]) -> str:
    """Remove the frames of this generator (``File`` line + source + carets) from a traceback."""
    out: list[str] = []
    dropping = False
    for line in text.splitlines(keepends=True):
        if line.startswith('  File "'):
            dropping = any(m in line for m in markers)
        elif not line.startswith("    "):
            dropping = False
        if not dropping:
            out.append(line)
    return "".join(out)


def remi_own(fmt: str) -> str:
    """Remi's own logging (basicConfig-style layouts): a TimeoutError and a chained error."""
    import pipeline  # type: ignore[import-not-found]  # the fake module exists only in the temp tree

    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(_Clock())
    log = logging.getLogger("remi.scan")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    steps = iter(("06:00:00", "06:02:00", "06:03:00", "06:04:00", "06:04:01"))
    pipeline.run_scan([1, 2, 3], lambda: at(next(steps)))
    log.removeHandler(handler)
    return drop_frames(buf.getvalue(), ("generate.py", "<frozen runpy>"))


def stdout_prints() -> str:
    """Remi's bot.log (stdout): prints, and a traceback printed with traceback.print_exc()."""
    import pipeline  # mypy reports the missing fake module once, in remi_own()

    buf = io.StringIO()
    print("Remi is starting...", file=buf)
    print("Loaded 3 cogs: scan, admin, help", file=buf)
    print("Remi#4821 is online! Synced 3 commands.", file=buf)
    print("[scan] user 1184729384756 scanning https://soundcloud.com/remi/likes (25 tracks)",
          file=buf)
    try:
        pipeline.score_from_cache({}, 7)
    except RuntimeError:
        buf.write(drop_frames(traceback.format_exc(), ("generate.py", "<frozen runpy>")))
    print("[scan] done in 12.4s", file=buf)
    return buf.getvalue()


def rewrite(text: str, root: Path, site: Path) -> str:
    text = text.replace(str(root / "shim/tree.py"), f"{SITE}/discord/app_commands/tree.py")
    text = text.replace(str(root / "shim/gateway.py"), f"{SITE}/discord/gateway.py")
    text = text.replace(str(root / "packages/bot/main_blocked.py"), f"{REMI}/packages/bot/main.py")
    text = text.replace("127.0.0.1:9", "gateway-us-east1-c.discord.gg:443").replace(
        "ws://gateway-us-east1-c.discord.gg:443/", "wss://gateway-us-east1-c.discord.gg/")
    text = text.replace("('127.0.0.1', 9)", "('162.159.135.234', 443)")
    text = text.replace(str(site), SITE).replace(str(root), REMI)
    discord_dir = str(Path(discord.__file__).parent.parent)
    text = text.replace(discord_dir, SITE)
    return text.replace(sysconfig.get_paths()["stdlib"], STDLIB)


def main() -> None:
    os.environ["TZ"] = "UTC"
    time.tzset()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "remix-sniper"
        write_tree(root)
        site = root / "site"
        sys.path[:0] = [str(root / "packages/core"), str(root / "packages/bot"), str(site),
                        str(root / "shim")]
        outputs: dict[str, str] = {}
        logging.disable(logging.CRITICAL)
        stack = blocked_stack(root)
        logging.disable(logging.NOTSET)
        for name, fmt in (("plain", PLAIN), ("ansi", _ColourFormatter())):
            with Capture(fmt) as cap:
                incident(cap, root, stack)
            outputs[f"incident_{name}.log"] = cap.buf.getvalue()
        with Capture(PLAIN) as cap:
            gateway_close(cap, root, 4014)
        outputs["privileged_intents.log"] = cap.buf.getvalue()
        with Capture(PLAIN) as cap:
            gateway_close(cap, root, 4004)
        outputs["close_4004.log"] = cap.buf.getvalue()
        with Capture(_ColourFormatter()) as cap:
            login_failure(cap, root)
        outputs["login_failure_ansi.log"] = cap.buf.getvalue()
        outputs["basicconfig.log"] = remi_own(logging.BASIC_FORMAT)
        outputs["timestamped.log"] = remi_own("%(asctime)s %(levelname)s %(name)s: %(message)s")
        outputs["bot_stdout.log"] = stdout_prints()
        for name, text in outputs.items():
            (OUT / name).write_text(rewrite(text, root, site), encoding="utf-8")
            print(f"wrote {name}")


if __name__ == "__main__":
    main()
