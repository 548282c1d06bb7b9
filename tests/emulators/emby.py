"""Emby emulator: `POST /Library/Media/Updated?api_key=...` (a partial scan).

Mounted at `/emby`; a client's url is `<base>/emby` (like http://host:8096);
the same routes answer under `/emby/...` too (Emby's documented base path,
http://host:8096/emby). Body and answers as jellyfin.py; the key comes from
`api_key` in the query or the `X-Emby-Token` header; no or a wrong key -> 401.

Library section "emby": {"token": "emby-key", "tokens": [...], "user_tokens": [...]}
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from .jellyfin import media_updated
from .mediaservers import MediaServer
from .state import EmulatorState

NAME = "emby"
API_PATH = ""


def token_of(request: Request) -> str | None:
    return request.query_params.get("api_key") or request.headers.get("x-emby-token")


def build(state: EmulatorState) -> Starlette:
    server = MediaServer(state, NAME, {"token": "emby-key", "tokens": [], "user_tokens": []})
    handler = media_updated(server, token_of)
    return Starlette(
        routes=[
            Route("/Library/Media/Updated", handler, methods=["POST"]),
            Route("/emby/Library/Media/Updated", handler, methods=["POST"]),
        ]
    )
