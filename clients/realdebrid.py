"""Real-Debrid REST API 1.0 client (../shared/api/realdebrid-rest-1.0.txt).

Typed results, all pages of paginated lists, and the service's error JSON
(`{"error": ..., "error_code": N}`) mapped to `clients.errors`. The token is
sent as a Bearer header only, never in a URL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import trio

from .errors import (AccountLocked, AuthError, FileUnavailable, NotFound, PermissionDenied,
                     QuotaExceeded, RateLimited, RemoteError, TemporaryError)
from .http import retry_after_seconds

log = logging.getLogger(__name__)

PAGE_LIMIT = 2500
API_RETRIES = 4


def parse_date(value: str | None) -> float | None:
    """jsonDate ('2026-01-02T03:04:05.000Z') -> unix seconds."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class Download:
    id: str
    filename: str
    filesize: int
    download: str = field(repr=False)
    link: str = ""
    host: str = ""
    chunks: int = 0
    generated: float | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Download":
        return cls(id=str(data["id"]), filename=str(data.get("filename") or data["id"]),
                   filesize=int(data.get("filesize") or 0), download=str(data.get("download", "")),
                   link=str(data.get("link", "")), host=str(data.get("host", "")),
                   chunks=int(data.get("chunks") or 0), generated=parse_date(data.get("generated")))


@dataclass(frozen=True)
class Torrent:
    id: str
    filename: str
    status: str
    bytes: int
    progress: float
    added: float | None
    ended: float | None
    links: tuple[str, ...]
    hash: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Torrent":
        return cls(id=str(data["id"]), filename=str(data.get("filename") or data["id"]),
                   status=str(data.get("status", "")), bytes=int(data.get("bytes") or 0),
                   progress=float(data.get("progress") or 0), added=parse_date(data.get("added")),
                   ended=parse_date(data.get("ended")), links=tuple(data.get("links") or ()),
                   hash=str(data.get("hash", "")))


@dataclass(frozen=True)
class TorrentFile:
    id: int
    path: str
    bytes: int
    selected: bool


@dataclass(frozen=True)
class TorrentInfo:
    torrent: Torrent
    files: tuple[TorrentFile, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TorrentInfo":
        files = tuple(TorrentFile(id=int(f["id"]), path=str(f["path"]), bytes=int(f.get("bytes") or 0),
                                  selected=bool(f.get("selected")))
                      for f in data.get("files") or ())
        return cls(torrent=Torrent.from_json(data), files=files)

    def selected_files_with_links(self) -> list[tuple[TorrentFile, str]]:
        """The n-th selected file goes with the n-th link."""
        selected = [f for f in self.files if f.selected]
        links = self.torrent.links
        if len(links) != len(selected):
            # One link for many files happens when Real-Debrid archived them together;
            # those files cannot be served one by one.
            log.info("torrent %s: %d selected files but %d links; skipping unmatched files",
                     self.torrent.id, len(selected), len(links))
        return list(zip(selected, links))


@dataclass(frozen=True)
class UnrestrictedLink:
    id: str
    filename: str
    filesize: int
    download: str = field(repr=False)
    chunks: int = 0


class RealDebridClient:
    def __init__(self, http: httpx.AsyncClient, api_url: str, token: str) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self._token = token

    def __repr__(self) -> str:
        return f"RealDebridClient({self.api_url!r})"

    async def request(self, method: str, path: str, *, params: dict | None = None,
                      data: dict | None = None, content: bytes | None = None,
                      headers: dict | None = None) -> httpx.Response:
        """One API call, retried on 429/5xx with backoff; errors mapped."""
        all_headers = {"Authorization": f"Bearer {self._token}", **(headers or {})}
        delay = 1.0
        for attempt in range(API_RETRIES + 1):
            try:
                response = await self.http.request(method, self.api_url + path, params=params,
                                                   data=data, content=content, headers=all_headers)
            except httpx.TransportError as exc:
                error: RemoteError = TemporaryError(f"Real-Debrid {path}: {type(exc).__name__}")
            else:
                if response.status_code < 400 or response.status_code == 304:
                    return response
                error = self._error(path, response)
            if not isinstance(error, (RateLimited, TemporaryError)) or attempt == API_RETRIES:
                raise error
            wait = getattr(error, "retry_after", None) or delay
            log.info("Real-Debrid %s: %s; retrying in %.1fs", path, error, wait)
            await trio.sleep(wait)
            delay = min(delay * 2, 30)
        raise AssertionError("unreachable")

    @staticmethod
    def _error(path: str, response: httpx.Response) -> RemoteError:
        status = response.status_code
        try:
            body = response.json()
            name, code = str(body.get("error", "")), body.get("error_code")
        except ValueError:
            name, code = response.text[:80], None
        message = f"Real-Debrid {path}: {name or 'HTTP ' + str(status)}" + (f" (code {code})" if code is not None else "")
        kw = {"code": code, "status": status}
        if status == 401 or code == 8:
            return AuthError(f"Real-Debrid rejected the API token (bad_token, HTTP {status})", **kw)
        if code == 14 or (status == 403 and "locked" in name):
            return AccountLocked("Real-Debrid account is locked (HTTP 403)", **kw)
        if status == 429 or code in (5, 34):
            return RateLimited(message, retry_after=retry_after_seconds(response), **kw)
        if code in (24, 35) or status == 451:
            return FileUnavailable(message, **kw)
        if code == 23:
            return QuotaExceeded(message, **kw)
        if code == 9 or status == 403:
            return PermissionDenied(message, **kw)
        if status == 404 or code == 7:
            return NotFound(message, **kw)
        if status >= 500:
            return TemporaryError(message, retry_after=retry_after_seconds(response), **kw)
        return RemoteError(message, **kw)

    async def user(self) -> dict[str, Any]:
        return (await self.request("GET", "/user")).json()

    async def _all_pages(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            response = await self.request("GET", path, params={"offset": len(items), "limit": PAGE_LIMIT})
            if response.status_code == 204:
                break
            page = response.json()
            if not page:
                break
            items.extend(page)
            total = int(response.headers.get("x-total-count", len(items)))
            if len(items) >= total:
                break
        return items

    async def downloads(self) -> list[Download]:
        return [Download.from_json(d) for d in await self._all_pages("/downloads")]

    async def torrents(self) -> list[Torrent]:
        return [Torrent.from_json(t) for t in await self._all_pages("/torrents")]

    async def torrent_info(self, torrent_id: str) -> TorrentInfo:
        return TorrentInfo.from_json((await self.request("GET", f"/torrents/info/{torrent_id}")).json())

    async def unrestrict_link(self, link: str) -> UnrestrictedLink:
        data = (await self.request("POST", "/unrestrict/link", data={"link": link})).json()
        return UnrestrictedLink(id=str(data.get("id", "")), filename=str(data.get("filename", "")),
                                filesize=int(data.get("filesize") or 0), download=str(data["download"]),
                                chunks=int(data.get("chunks") or 0))
