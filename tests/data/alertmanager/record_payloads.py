"""Record the fixtures of this directory from a real Alertmanager (``prometheus-alertmanager``).

Run once by hand: ``.venv/bin/python tests/data/alertmanager/record_payloads.py``. It starts
Alertmanager on 127.0.0.1 with a rule-free config whose only receiver is a recorder on
127.0.0.1, pushes alerts through ``POST /api/v2/alerts`` and writes each webhook body it
receives (firing, partly resolved, resolved, more than ten alerts, over-long annotations).
The malformed fixtures are written by hand.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

HERE = Path(__file__).parent
AM_PORT, HOOK_PORT = 19093, 19809
CONFIG = f"""
route:
  receiver: bubabot
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 4h
receivers:
  - name: bubabot
    webhook_configs:
      - url: http://127.0.0.1:{HOOK_PORT}/alertmanager
        send_resolved: true
"""


def alert(name: str, instance: str, *, ended: bool = False, **annotations: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "labels": {"alertname": name, "bot": "remi", "instance": instance,
                   "severity": "page", "job": "remi-ops"},
        "annotations": annotations or {"summary": f"{name} on {instance}"},
        "startsAt": (now - timedelta(minutes=5)).isoformat(),
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=remi_loop_lag_seconds"}
    if ended:
        body["endsAt"] = (now - timedelta(seconds=1)).isoformat()
    return body


async def main() -> None:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        sys.exit("prometheus-alertmanager is not installed")
    bodies: asyncio.Queue[bytes] = asyncio.Queue()

    async def record(request: web.Request) -> web.Response:
        await bodies.put(await request.read())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/alertmanager", record)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", HOOK_PORT).start()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "am.yml").write_text(CONFIG)
        proc = subprocess.Popen([binary, f"--config.file={tmp}/am.yml",
                                 f"--storage.path={tmp}", "--cluster.listen-address=",
                                 f"--web.listen-address=127.0.0.1:{AM_PORT}",
                                 f"--web.external-url=http://127.0.0.1:{AM_PORT}"])
        try:
            await asyncio.sleep(2)
            async with aiohttp.ClientSession() as http:
                async def push(*alerts: dict[str, Any]) -> None:
                    async with http.post(f"http://127.0.0.1:{AM_PORT}/api/v2/alerts",
                                         json=list(alerts)) as r:
                        r.raise_for_status()

                async def save(name: str) -> None:
                    body = await asyncio.wait_for(bodies.get(), 30)
                    data = json.loads(body)
                    (HERE / name).write_text(json.dumps(data, indent=2) + "\n")
                    print(name, data["status"], [a["status"] for a in data["alerts"]])

                lag = [alert("RemiLoopLag", i) for i in ("mac-mini-1", "mac-mini-2", "k8s-a")]
                await push(*lag)
                await save("firing.json")
                await push(alert("RemiLoopLag", "mac-mini-2", ended=True), lag[0], lag[2])
                await save("partly_resolved.json")
                await push(*(alert("RemiLoopLag", i, ended=True)
                             for i in ("mac-mini-1", "k8s-a")))
                await save("resolved.json")
                await push(*(alert("RemiErrorBurst", f"shard-{n:02d}") for n in range(14)))
                await save("many_alerts.json")
                await push(alert("RemiLongNotes", "mac-mini-1",
                                 summary="S" * 400 + " summary end",
                                 description="D" * 5000 + " description end"))
                await save("long_annotations.json")
        finally:
            proc.terminate()
            proc.wait(10)
            await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
