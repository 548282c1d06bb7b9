"""Premiumize.me legacy API client (../shared/api/premiumize-legacy-api.txt, NOTES §3).

`api_url` is the whole endpoint (`.../pm-api/v1.php`); the method and
`params[login]`/`params[pass]` are query parameters, as documented (httpx
logging is silenced and errors never carry the URL, so the PIN stays out of
logs). Replies are `{"result", "status", "statusmessage"}`; only `status` is
interpreted. The document's advice: 4xx stop (raise a permanent error), 5xx
retry after minutes (raise with `retry_after`; the caller records it rather
than blocking a read), 509 fair use: retry after 10 minutes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from .errors import (AuthError, FileUnavailable, PermissionDenied, RateLimited, RemoteError,
                     TemporaryError)

log = logging.getLogger(__name__)

# status -> (error class, meaning, retry after seconds or None) — the doc and NOTES' table.
STATUSES: dict[int, tuple[type[RemoteError], str, float | None]] = {
    0: (RateLimited, "daily limit reached for this host", 600),
    2: (TemporaryError, "odd server error", 300),
    400: (FileUnavailable, "no valid link", None),
    401: (AuthError, "login failed (check [premiumize] login = customer id, password = PIN)", None),
    402: (AuthError, "payment required: the account is not premium", None),
    403: (PermissionDenied, "forbidden (account or IP banned)", None),
    404: (FileUnavailable, "file not found: deleted at the hoster", None),
    428: (FileUnavailable, "hoster currently not available", None),
    500: (RateLimited, "link limit reached", 600),
    502: (TemporaryError, "unknown technical error", 180),
    503: (TemporaryError, "temporary technical error, maintenance", 180),
    509: (RateLimited, "fair use limit exhausted", 600),
}


@dataclass(frozen=True)
class AccountStatus:
    type: str
    expires: float | None
    fairuse_left: float

    @property
    def can_download(self) -> bool:
        return self.type != "free"


@dataclass(frozen=True)
class HosterList:
    regexes: tuple[re.Pattern[str], ...]
    connection_settings: dict[str, Any]

    def supports(self, url: str) -> bool:
        return any(rx.match(url) for rx in self.regexes)

    def max_connections(self, url: str) -> int | None:
        from urllib.parse import urlsplit

        domain = (urlsplit(url).hostname or "").lower().removeprefix("www.")
        settings = self.connection_settings
        entry = settings.get(domain)
        if entry is None:   # alternate TLDs (rg.to) share their hoster's settings
            entry = next((v for k, v in settings.items() if k != "all" and domain.split(".")[0] in k), None)
        entry = entry or settings.get("all") or {}
        value = entry.get("max_connections_per_file")
        return int(value) if value else None


@dataclass(frozen=True)
class DirectDownload:
    filename: str
    filesize: int
    location: str = field(repr=False)


class PremiumizeClient:
    def __init__(self, http: httpx.AsyncClient, api_url: str, login: str, password: str) -> None:
        self.http = http
        self.api_url = api_url
        self._login = login
        self._password = password

    def __repr__(self) -> str:
        return f"PremiumizeClient({self.api_url!r})"

    async def call(self, method: str, **params: str) -> Any:
        query = {"method": method, "params[login]": self._login, "params[pass]": self._password,
                 **{f"params[{k}]": v for k, v in params.items()}}
        try:
            response = await self.http.get(self.api_url, params=query)
        except httpx.TransportError as exc:
            raise TemporaryError(f"Premiumize {method}: {type(exc).__name__}", retry_after=180) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "status" not in body:
            # The status may also be on the HTTP line; otherwise it is a broken reply.
            status = response.status_code if response.status_code >= 400 else 502
        else:
            status = int(body.get("status") or 0)
        if status == 200:
            return body.get("result")
        kind, meaning, retry = STATUSES.get(status, (TemporaryError if status >= 500 else RemoteError,
                                                     "unexpected reply", 180 if status >= 500 else None))
        message = f"Premiumize status {status}: {meaning}"
        if retry is not None:
            message += f" (retry after {retry / 60:.0f} min)"
            return _raise(kind(message, retry_after=retry, code=status, status=response.status_code))
        return _raise(kind(message, code=status, status=response.status_code))

    async def account_status(self) -> AccountStatus:
        result = await self.call("accountstatus") or {}
        expires = result.get("expires")
        return AccountStatus(type=str(result.get("type") or "free"),
                             expires=float(expires) if expires else None,
                             fairuse_left=float(result.get("fairuse_left") or 0))

    async def hoster_list(self) -> HosterList:
        result = await self.call("hosterlist") or {}
        patterns = []
        for text in result.get("regexlist") or ():
            try:
                patterns.append(re.compile(text))
            except re.error:
                log.info("Premiumize: ignoring a hoster regex that Python cannot compile")
        return HosterList(tuple(patterns), dict(result.get("connection_settings") or {}))

    async def direct_download_link(self, url: str) -> DirectDownload:
        result = await self.call("directdownloadlink", link=url) or {}
        location = result.get("location")
        if not location:
            raise TemporaryError("Premiumize directdownloadlink: no location in the reply", retry_after=180)
        size = int(result.get("filesize") or 0)
        if not size:   # the doc's reply has only `location`: ask the file server
            size = await self._content_length(str(location))
        return DirectDownload(filename=str(result.get("filename") or ""), filesize=size,
                              location=str(location))

    async def _content_length(self, location: str) -> int:
        try:
            response = await self.http.head(location)
        except httpx.TransportError as exc:
            raise TemporaryError(f"Premiumize download server: {type(exc).__name__}",
                                 retry_after=180) from None
        return int(response.headers.get("content-length") or 0)


def _raise(error: RemoteError) -> Any:
    raise error
