"""Jellyfin emulator: `POST /Library/Media/Updated` (what a partial scan is).

Mounted at `/jellyfin`; a client's url is `<base>/jellyfin` (like http://host:8096).

The body is `{"Updates": [{"Path": "...", "UpdateType": "Created|Modified|Deleted"}]}`
(an unknown UpdateType counts as Modified, as the server does); the answer is
204. The endpoint needs an administrator's token: `Authorization: MediaBrowser
Token="..."` (also `X-Emby-Token` / `X-MediaBrowser-Token` headers). No or a
wrong token -> 401; a non-administrator's (`user_tokens`) -> 403; a body that
is not JSON -> 400.

Library section "jellyfin": {"token": "jf-key", "tokens": [...], "user_tokens": [...]}
"""

from __future__ import annotations

import re
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .mediaservers import MediaServer
from .state import EmulatorState

NAME = "jellyfin"
API_PATH = ""


def token_of(request: Request) -> str | None:
    header = request.headers.get("authorization") or request.headers.get("x-emby-authorization") or ""
    match = re.search(r'Token="([^"]*)"', header)
    if match and header.lstrip().startswith(("MediaBrowser", "Emby")):
        return match.group(1)
    return request.headers.get("x-emby-token") or request.headers.get("x-mediabrowser-token")


def media_updated(server: MediaServer, token: Any) -> Any:
    async def handler(request: Request) -> Response:
        record, early = await server.begin(request, "POST /Library/Media/Updated")
        if early is not None:
            return early
        given = token(request)
        if given in server.section.get("user_tokens", []):
            return server.reply(record, Response(b"", 403))
        if given not in server.tokens():
            return server.reply(record, Response(b"", 401))
        body = record["body"]
        if not isinstance(body, dict) or "unparsable" in body:
            return server.reply(
                record, JSONResponse({"title": "One or more validation errors occurred.", "status": 400}, 400)
            )
        return server.reply(record, Response(b"", 204))

    return handler


def build(state: EmulatorState) -> Starlette:
    server = MediaServer(state, NAME, {"token": "jf-key", "tokens": [], "user_tokens": []})
    return Starlette(
        routes=[Route("/Library/Media/Updated", media_updated(server, token_of), methods=["POST"])]
    )
