"""Plex Media Server emulator: the library endpoints a partial scan uses.

Mounted at `/plex`; a client's url is `<base>/plex` (like http://host:32400).

    GET /library/sections                    the sections with their Location paths
    GET|PUT|POST /library/sections/{key}/refresh[?path=DIR][&force=1]
                                             a (partial) scan; 200, empty body

The token is `X-Plex-Token`, as a header or a query parameter; a missing or
wrong one gets 401 with Plex's HTML body. Unknown section -> 404. Plex answers
XML unless the request has `Accept: application/json`; the "json" switch set
to false makes it answer XML always (older servers, some proxies).

Library section "plex":
    {"token": "plex-token", "tokens": [...],
     "json": true,
     "sections": [{"key": "1", "title": "TV", "type": "show",
                   "locations": ["/data/tv", ...]}]}
"""

from __future__ import annotations

import time
from typing import Any
from xml.sax.saxutils import quoteattr

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .mediaservers import MediaServer
from .state import EmulatorState

NAME = "plex"
API_PATH = ""
UNAUTHORIZED = b"<html><head><title>Unauthorized</title></head><body><h1>401 Unauthorized</h1></body></html>"


def sample_section() -> dict[str, Any]:
    return {
        "token": "plex-token",
        "sections": [{"key": "1", "title": "Movies", "type": "movie", "locations": ["/data/movies"]}],
    }


def build(state: EmulatorState) -> Starlette:
    server = MediaServer(state, NAME, {"token": "plex-token", "tokens": [], "json": True, "sections": []})

    def authorized(request: Request) -> bool:
        token = request.headers.get("x-plex-token") or request.query_params.get("X-Plex-Token")
        return token in server.tokens()

    def sections_body(want_json: bool) -> Response:
        now = int(time.time())
        directories = []
        for i, s in enumerate(server.section["sections"]):
            directories.append(
                {
                    "allowSync": True,
                    "art": "/:/resources/movie-fanart.jpg",
                    "composite": "",
                    "filters": True,
                    "refreshing": False,
                    "thumb": "",
                    "key": str(s["key"]),
                    "type": s.get("type", "movie"),
                    "title": s.get("title", f"Section {s['key']}"),
                    "agent": "tv.plex.agents.movie",
                    "scanner": "Plex Movie",
                    "language": "en-US",
                    "uuid": f"00000000-0000-0000-0000-{int(s['key']):012d}",
                    "updatedAt": now,
                    "createdAt": now - 86400,
                    "scannedAt": now,
                    "content": True,
                    "directory": True,
                    "contentChangedAt": i,
                    "hidden": 0,
                    "Location": [
                        {"id": 100 * (i + 1) + j, "path": p} for j, p in enumerate(s.get("locations", []))
                    ],
                }
            )
        if want_json:
            return JSONResponse(
                {
                    "MediaContainer": {
                        "size": len(directories),
                        "allowSync": False,
                        "title1": "Plex Library",
                        "Directory": directories,
                    }
                }
            )
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<MediaContainer size="{len(directories)}" allowSync="0" title1="Plex Library">',
        ]
        for d in directories:
            attrs = " ".join(
                f"{k}={quoteattr(str(int(v) if isinstance(v, bool) else v))}"
                for k, v in d.items()
                if k != "Location"
            )
            parts.append(f"<Directory {attrs}>")
            parts += [f'<Location id="{loc["id"]}" path={quoteattr(loc["path"])} />' for loc in d["Location"]]
            parts.append("</Directory>")
        parts.append("</MediaContainer>")
        return Response("\n".join(parts).encode(), media_type="application/xml")

    async def sections(request: Request) -> Response:
        record, early = await server.begin(request, "GET /library/sections")
        if early is not None:
            return early
        if not authorized(request):
            return server.reply(record, Response(UNAUTHORIZED, 401, media_type="text/html"))
        want_json = server.section["json"] and "application/json" in request.headers.get("accept", "")
        return server.reply(record, sections_body(want_json))

    async def refresh(request: Request) -> Response:
        record, early = await server.begin(request, f"{request.method} /library/sections/{{key}}/refresh")
        if early is not None:
            return early
        if not authorized(request):
            return server.reply(record, Response(UNAUTHORIZED, 401, media_type="text/html"))
        key = request.path_params["key"]
        if not any(str(s["key"]) == key for s in server.section["sections"]):
            return server.reply(record, Response(b"", 404))
        return server.reply(record, Response(b"", 200))

    return Starlette(
        routes=[
            Route("/library/sections", sections, methods=["GET"]),
            Route("/library/sections/{key}/refresh", refresh, methods=["GET", "PUT", "POST"]),
        ]
    )
