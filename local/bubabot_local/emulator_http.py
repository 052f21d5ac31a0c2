"""HTTP plumbing for the emulated REST API: JSON replies, request bodies, auth, faults.

Pitfall 1: discord.py's `json_or_text` only parses a body whose Content-Type is exactly
`application/json`; aiohttp's `json_response` adds `; charset=utf-8`, so every reply is built
here by hand.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from email import policy
from email.parser import BytesParser
from typing import Any

from aiohttp import web

from bubabot_local.emulator_state import ApiError, EmulatorState, FaultRule, UploadedFile
from bubabot_local.emulator_world import BotAccount

API_PREFIX = "/api/v10"
FILE_SIZE_MAX = 10 * 1024 * 1024  # Discord's default per-file upload limit
_FILES_FIELD = re.compile(r"files\[(\d+)\]")
_DIGITS = re.compile(r"\d+")
_ERRORS = {
    400: (50035, "Invalid Form Body"),
    401: (0, "401: Unauthorized"),
    403: (50013, "Missing Permissions"),
    404: (10003, "Unknown Channel"),
}


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON reply with the exact Content-Type discord.py requires."""
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def no_content() -> web.Response:
    """204, as Discord answers deletes and typing."""
    return web.Response(status=204)


def bot_from_request(state: EmulatorState, request: web.Request) -> BotAccount:
    """The bot named by `Authorization: Bot <token>`; 401 as Discord answers otherwise."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    bot = state.bots.get(token) if scheme == "Bot" else None
    if bot is None:
        raise ApiError(401, 0, "401: Unauthorized")
    return bot


def parse_multipart(content_type: str, body: bytes) -> tuple[Any, list[UploadedFile]]:
    """`payload_json` and the `files[N]` parts of a multipart/form-data body.

    The raw body was already read for the request log, which consumes aiohttp's stream, so
    the bytes are parsed with the standard library's MIME parser instead of aiohttp's reader.
    """
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    envelope = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    payload: Any = {}
    files: list[UploadedFile] = []
    for part in envelope.walk():
        if part.is_multipart():
            continue
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        raw = data if isinstance(data, bytes) else b""
        if name == "payload_json":
            payload = json.loads(raw or b"{}")
            continue
        match = _FILES_FIELD.fullmatch(str(name or ""))
        if match is not None:
            index = int(match.group(1))
            filename = part.get_filename() or f"file{index}"
            files.append(UploadedFile(index=index, filename=filename, data=raw))
    return payload, files


async def read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """The JSON body (or multipart `payload_json`) and any uploaded files."""
    raw = await request.read()
    if request.content_type.startswith("multipart/"):
        payload, files = parse_multipart(request.headers["Content-Type"], raw)
        if any(len(upload.data) > FILE_SIZE_MAX for upload in files):
            raise ApiError(413, 40005, "Request entity too large")
        return payload, files
    if not raw:
        return {}, []
    try:
        return json.loads(raw), []
    except ValueError as error:
        raise ApiError(400, 50109, "The request body contains invalid JSON.") from error


def fault_response(rule: FaultRule, method: str, api_path: str) -> web.Response:
    """An injected failure. A 429 carries `Via` (pitfall 11) and X-RateLimit-* headers."""
    if rule.status != 429:
        code, message = _ERRORS.get(rule.status, (0, f"{rule.status}: emulated failure"))
        return json_response({"message": message, "code": code}, rule.status)
    retry_after = rule.retry_after
    route = f"{method} {_DIGITS.sub('{id}', api_path)}"
    headers = {
        "Via": "1.1 google",
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{retry_after:.3f}",
        "X-RateLimit-Bucket": hashlib.sha256(route.encode()).hexdigest()[:32],
        "X-RateLimit-Scope": "global" if rule.global_limit else "user",
    }
    if rule.global_limit:
        headers["X-RateLimit-Global"] = "true"
    body = {"message": "You are being rate limited.", "retry_after": retry_after,
            "global": rule.global_limit}
    return json_response(body, 429, headers)


def outage_response() -> web.Response:
    """What Discord's edge answers while the API is down."""
    return json_response({"message": "503: Service Unavailable", "code": 0}, 503)
