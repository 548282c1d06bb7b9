"""Partial library scans on Plex, Jellyfin and Emby.

Each client takes a batch of `(path, update_type)` pairs, paths as the media
server sees them, `update_type` one of Created, Modified, Deleted:

- Plex: the sections come from `GET /library/sections` (JSON when the server
  honours `Accept: application/json`, XML otherwise); every path inside a
  section's `Location` gets `GET /library/sections/{key}/refresh?path=DIR`.
  A deleted path is scanned through its parent (a scan of a path that is gone
  finds nothing to remove). The token goes in the `X-Plex-Token` header.
- Jellyfin: one `POST /Library/Media/Updated` with
  `{"Updates": [{"Path": ..., "UpdateType": ...}]}` and
  `Authorization: MediaBrowser Token="..."`.
- Emby: the same body to `/Library/Media/Updated?api_key=...`.

Errors are the shared vocabulary: AuthError (401/403), TemporaryError (5xx,
connection failures: retry), RemoteError (anything else). Messages carry no
URL query and no token.
"""

from __future__ import annotations

import logging
import posixpath
import xml.etree.ElementTree as ET
from typing import Any

import httpx

from .errors import AuthError, RemoteError, TemporaryError
from .http import redact_url, retry_after_seconds

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(20.0, connect=5.0)
UPDATE_TYPES = ("Created", "Modified", "Deleted")


class MediaServer:
    kind = "server"

    def __init__(self, http: httpx.AsyncClient, url: str, token: str) -> None:
        self.http = http
        self.url = url.rstrip("/")
        self._token = token

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = self.url + path
        try:
            response = await self.http.request(method, url, timeout=TIMEOUT, **kwargs)
        except httpx.HTTPError as exc:
            raise TemporaryError(f"{self.kind}: {method} {redact_url(url)}: {type(exc).__name__}") from None
        status = response.status_code
        if status < 300:
            return response
        message = f"{self.kind}: {method} {redact_url(url)} answered {status}"
        if status in (401, 403):
            raise AuthError(message + " (check the token)", status=status)
        if status == 429 or status >= 500:
            raise TemporaryError(message, status=status, retry_after=retry_after_seconds(response))
        raise RemoteError(message, status=status)

    async def scan(self, updates: list[tuple[str, str]]) -> int:
        """Tells the server about the changed paths; returns the number of calls made."""
        raise NotImplementedError


class Plex(MediaServer):
    kind = "plex"

    def _headers(self) -> dict[str, str]:
        return {"X-Plex-Token": self._token, "Accept": "application/json"}

    async def sections(self) -> list[tuple[str, list[str]]]:
        """(section key, [location paths]) of every library section."""
        response = await self._call("GET", "/library/sections", headers=self._headers())
        return parse_sections(response)

    async def scan(self, updates: list[tuple[str, str]]) -> int:
        sections = await self.sections()
        wanted: dict[tuple[str, str], None] = {}
        for path, update_type in updates:
            directory = posixpath.dirname(path) if update_type == "Deleted" else path
            for key, locations in sections:
                if any(inside(directory, location) for location in locations):
                    wanted[key, directory] = None
        for key, directory in wanted:
            await self._call(
                "GET", f"/library/sections/{key}/refresh", params={"path": directory}, headers=self._headers()
            )
        if not wanted:
            log.debug("plex: no section holds %d changed paths", len(updates))
        return 1 + len(wanted)


def inside(path: str, location: str) -> bool:
    location = location.rstrip("/") or "/"
    return path == location or path.startswith(location if location == "/" else location + "/")


def parse_sections(response: httpx.Response) -> list[tuple[str, list[str]]]:
    """`/library/sections` as JSON (MediaContainer.Directory[].Location[].path) or XML."""
    text = response.text
    try:
        if text.lstrip().startswith("{"):
            container = response.json().get("MediaContainer") or {}
            return [
                (
                    str(d.get("key")),
                    [str(loc.get("path")) for loc in d.get("Location") or [] if loc.get("path")],
                )
                for d in container.get("Directory") or []
                if d.get("key") is not None
            ]
        root = ET.fromstring(text)
        return [
            (d.get("key", ""), [loc.get("path", "") for loc in d.findall("Location") if loc.get("path")])
            for d in root.findall("Directory")
            if d.get("key")
        ]
    except (ValueError, AttributeError, ET.ParseError) as exc:
        raise RemoteError(f"plex: /library/sections is not readable ({type(exc).__name__})") from None


class Jellyfin(MediaServer):
    kind = "jellyfin"

    def _auth(self) -> dict[str, Any]:
        return {"headers": {"Authorization": f'MediaBrowser Token="{self._token}"'}}

    async def scan(self, updates: list[tuple[str, str]]) -> int:
        body = {"Updates": [{"Path": path, "UpdateType": kind} for path, kind in updates]}
        await self._call("POST", "/Library/Media/Updated", json=body, **self._auth())
        return 1


class Emby(Jellyfin):
    kind = "emby"

    def _auth(self) -> dict[str, Any]:
        return {"params": {"api_key": self._token}}


SERVERS: dict[str, type[MediaServer]] = {"plex": Plex, "jellyfin": Jellyfin, "emby": Emby}
