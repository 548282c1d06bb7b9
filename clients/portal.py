"""Portal external API v1 client (../shared/api/portal-external-api-v1.txt).

The API key goes in `Authorization: Bearer`, never in a URL. Errors are
`{"success": false, "status": N, "msg": ..., "retry_in_seconds": S}`; every
documented status maps to `clients.errors` here. A call that the portal asks
to retry is retried only when its `retry_in_seconds` is short (`max_retry_wait`);
longer waits are raised with `retry_after` so the caller records them instead
of blocking.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio

from .errors import (AuthError, FileUnavailable, NotFound, PermissionDenied, QuotaExceeded,
                     RateLimited, RemoteError, TemporaryError)
from .http import retry_after_seconds

log = logging.getLogger(__name__)

API_RETRIES = 2

# status -> (error class, what it means: the doc's table)
STATUSES: dict[int, tuple[type[RemoteError], str]] = {
    1: (AuthError, "missing or invalid API key"),
    2: (AuthError, "account not usable"),
    52: (QuotaExceeded, "insufficient traffic for this file"),
    54: (RateLimited, "per-host 24h usage limit exceeded"),
    55: (RateLimited, "too many concurrent downloads on this platform"),
    56: (RateLimited, "solo / low-speed slot limit reached"),
    101: (FileUnavailable, "unsupported URL or host"),
    102: (FileUnavailable, "source / file banned"),
    103: (PermissionDenied, "private file / payment to uploader required"),
    104: (FileUnavailable, "file offline or not found"),
    105: (TemporaryError, "service maintenance / upstream unavailable"),
    106: (TemporaryError, "upstream / generic external error"),
    107: (RateLimited, "server-side traffic / account pool insufficient"),
    900: (RemoteError, "validation / bad request"),
    999: (TemporaryError, "internal error"),
}


@dataclass(frozen=True)
class PortalLink:
    link_id: str
    ready: bool
    remote_status: str
    filename: str
    filesize: int
    maxchunks: int | None
    poll_after: float
    reused: bool = False
    link: str | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PortalLink":
        return cls(link_id=str(data["linkId"]), ready=bool(data.get("download_ready")),
                   remote_status=str(data.get("remote_status") or ""),
                   filename=str(data.get("filename") or ""),
                   filesize=int(data.get("filesize") or 0),
                   maxchunks=int(data["maxchunks"]) if data.get("maxchunks") else None,
                   poll_after=float(data.get("poll_after_seconds") or 2),
                   reused=bool(data.get("reusedExisting")), link=data.get("link") or None)


@dataclass(frozen=True)
class PortalHost:
    platform: str
    domains: tuple[str, ...]
    max_chunks: int | None
    working: bool


class PortalClient:
    def __init__(self, http: httpx.AsyncClient, api_url: str, api_key: str,
                 max_retry_wait: float = 5.0) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self._key = api_key
        self.max_retry_wait = max_retry_wait

    def __repr__(self) -> str:
        return f"PortalClient({self.api_url!r})"

    async def request(self, method: str, path: str, *, json: Any = None) -> dict[str, Any]:
        """One call; the `data` object of a success. Short retries only."""
        for attempt in range(API_RETRIES + 1):
            try:
                response = await self.http.request(method, self.api_url + path, json=json,
                                                   headers={"Authorization": f"Bearer {self._key}"})
            except httpx.TransportError as exc:
                error: RemoteError = TemporaryError(f"portal {path}: {type(exc).__name__}")
            else:
                body = _json(response)
                if response.status_code < 400 and body.get("success", True) is not False:
                    return body.get("data") or {}
                error = self.error(path, response, body)
            wait = getattr(error, "retry_after", None)
            retryable = isinstance(error, (RateLimited, TemporaryError)) and attempt < API_RETRIES
            if not retryable or (wait is not None and wait > self.max_retry_wait):
                raise error
            wait = 1.0 if wait is None else wait
            log.info("portal %s: %s; retrying in %.0fs", path, error, wait)
            await trio.sleep(wait)
        raise AssertionError("unreachable")

    @staticmethod
    def error(path: str, response: httpx.Response, body: dict[str, Any]) -> RemoteError:
        status = body.get("status")
        retry = body.get("retry_in_seconds")
        retry_after = float(retry) if isinstance(retry, (int, float)) else retry_after_seconds(response)
        kind, meaning = STATUSES.get(status if isinstance(status, int) else -1, (None, ""))
        if kind is None:
            http = response.status_code
            kind = TemporaryError if http >= 500 or http == 429 else RemoteError
            meaning = f"HTTP {http}"
        if (path.startswith("/link/") and status == 104) or (status is None and response.status_code == 404):
            kind = NotFound    # the linkId is gone: unrestrict again
        message = f"portal status {status}: {meaning}" if status is not None else f"portal {path}: {meaning}"
        if retry_after is not None:
            message += f" (retry in {retry_after:.0f}s)"
        kw: dict[str, Any] = {"code": status, "status": response.status_code}
        if kind in (RateLimited, TemporaryError):
            return kind(message, retry_after=retry_after, **kw)
        return kind(message, **kw)

    async def account(self) -> dict[str, Any]:
        return await self.request("GET", "/account")

    async def hosts_grouped(self) -> list[PortalHost]:
        data = await self.request("GET", "/hosts/grouped")
        hosts = []
        for row in data.get("supportedhosts") or ():
            domains = tuple(row.get("domains") or ([row["host"]] if row.get("host") else []))
            hosts.append(PortalHost(platform=str(row.get("platform") or row.get("host") or "?"),
                                    domains=domains,
                                    max_chunks=int(row["maxChunks"]) if row.get("maxChunks") else None,
                                    working=bool(row.get("currently_working", True))))
        return hosts

    async def unrestrict(self, url: str) -> PortalLink:
        return PortalLink.from_json(await self.request("POST", "/unrestrict", json={"url": url}))

    async def link(self, link_id: str) -> PortalLink:
        return PortalLink.from_json(await self.request("GET", f"/link/{link_id}"))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
