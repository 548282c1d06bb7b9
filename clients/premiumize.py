"""Premiumize.me legacy API client (docs/providers.md, "Premiumize").

`api_url` is the whole endpoint (`.../pm-api/v1.php`); the method and
`params[login]`/`params[pass]` are query parameters, as documented (httpx
logging is silenced and errors never carry the URL, so the PIN stays out of
logs). Replies are `{"result", "status", "statusmessage"}`; only `status` is
interpreted, through `STATUSES`. A wait is raised with `retry_after` (the
caller records it rather than blocking a read).

`directdownloadlink` may answer only `location` (the document's example) or
also `filename`/`filesize` (what clients met): a missing size comes from the
download server (HEAD, else the total of a one-byte ranged GET), a missing
name from its `Content-Disposition`, the location's or the link's last path
segment. A size that stays unknown is a wait, never a 0-byte file.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from .codes import PERMANENT, USER, WAIT, Rule
from .errors import AuthError, FileUnavailable, RateLimited, RemoteError, TemporaryError
from .fields import optional_float, optional_int

log = logging.getLogger(__name__)

T3 = 'providers.md, "Premiumize", Statuses'
# status -> rule. The document: "cancel on 4xx, retry 5xx after minutes"; what JDownloader
# and pyLoad do per status (docs/providers.md, "Premiumize", Statuses) is where 0, 2,
# 403 and 428 get their waits.
STATUSES: dict[int, Rule] = {
    0: Rule(WAIT, RateLimited, "daily limit reached for this host", 600, f"{T3}: block host 10 min"),
    2: Rule(WAIT, TemporaryError, "odd server error", 300, f"{T3}: retry, host off 5 min"),
    400: Rule(PERMANENT, FileUnavailable, "no valid link", None, f"{T3}: fail link"),
    401: Rule(
        USER,
        AuthError,
        "login failed (check [premiumize] login = customer id, password = PIN)",
        None,
        f"{T3}: disable account",
    ),
    402: Rule(
        USER, AuthError, "payment required: the account is not premium", None, f"{T3}: disable account"
    ),
    # A banned IP or a temporarily locked account: JDownloader only disables the account for a while.
    403: Rule(
        WAIT,
        TemporaryError,
        "forbidden (account or IP temporarily refused)",
        1800,
        f"{T3}: temp-disable account",
    ),
    404: Rule(PERMANENT, FileUnavailable, "file not found: deleted at the hoster", None, f"{T3}: offline"),
    428: Rule(WAIT, TemporaryError, "hoster currently not available", 1800, f"{T3}: block host 30 min"),
    500: Rule(WAIT, RateLimited, "link limit reached", 600, f"{T3}: block 10 min"),
    502: Rule(WAIT, TemporaryError, "unknown technical error", 180, f"{T3}: retry after 3 min"),
    503: Rule(
        WAIT, TemporaryError, "temporary technical error, maintenance", 180, f"{T3}: retry after 3 min"
    ),
    509: Rule(WAIT, RateLimited, "fair use limit exhausted", 600, f"{T3}: retry after 10 min"),
}
# Codes nobody documented: the document's rule by class (4xx cancel, 5xx retry after minutes).
UNKNOWN_4XX = Rule(PERMANENT, RemoteError, "unexpected reply", None, "doc: cancel on 4xx")
UNKNOWN_5XX = Rule(WAIT, TemporaryError, "unexpected reply", 180, "doc: retry 5xx after minutes")
SIZE_WAIT = 180.0  # the download server did not tell the size: ask again later


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
        domain = (urlsplit(url).hostname or "").lower().removeprefix("www.")
        settings = self.connection_settings
        entry = settings.get(domain)
        if entry is None:  # alternate TLDs (rg.to) share their hoster's settings
            entry = next((v for k, v in settings.items() if k != "all" and domain.split(".")[0] in k), None)
        entry = entry or settings.get("all") or {}
        value = optional_int(entry.get("max_connections_per_file")) if isinstance(entry, dict) else None
        return value if value else None


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
        query = {
            "method": method,
            "params[login]": self._login,
            "params[pass]": self._password,
            **{f"params[{k}]": v for k, v in params.items()},
        }
        try:
            response = await self.http.get(self.api_url, params=query)
        except httpx.TransportError as exc:
            raise TemporaryError(f"Premiumize {method}: {type(exc).__name__}", retry_after=180) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        said = optional_int(body.get("status")) if isinstance(body, dict) else None
        if said is None:
            # The status may also be on the HTTP line; otherwise it is a broken reply.
            status = response.status_code if response.status_code >= 400 else 502
        else:
            status = said
        if status == 200:
            return body.get("result")
        rule = STATUSES.get(status) or (UNKNOWN_5XX if status >= 500 else UNKNOWN_4XX)
        message = f"Premiumize status {status}: {rule.text}"
        if rule.meaning == WAIT:
            message += f" (retry after {rule.wait / 60:.0f} min)" if rule.wait else ""
        raise rule.error(message, code=status, status=response.status_code)

    async def account_status(self) -> AccountStatus:
        result = await self.call("accountstatus") or {}
        return AccountStatus(
            type=str(result.get("type") or "free").lower(),
            expires=optional_float(result.get("expires")) or None,
            fairuse_left=optional_float(result.get("fairuse_left")) or 0.0,
        )

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
        location = str(location)
        size = _int(result.get("filesize"))
        name = str(result.get("filename") or "")
        if not size or not name:  # the doc's reply has only `location`: ask the download server
            head_size, head_name = await self._probe_location(location)
            size = size or head_size
            name = name or head_name or _name_from_url(location, need_dot=True) or _name_from_url(url)
        if not size:
            raise TemporaryError(
                "Premiumize: the download server did not tell the file size", retry_after=SIZE_WAIT
            )
        return DirectDownload(filename=name, filesize=size, location=location)

    async def _probe_location(self, location: str) -> tuple[int, str]:
        """(size, Content-Disposition filename) from the download server: HEAD first; a
        server that refuses HEAD or omits the length answers a one-byte ranged GET."""
        try:
            head = await self.http.head(location, follow_redirects=True)
            size = _int(head.headers.get("content-length")) if head.status_code == 200 else 0
            name = _disposition_name(head.headers.get("content-disposition"))
            if size:
                return size, name
            async with self.http.stream(
                "GET", location, headers={"Range": "bytes=0-0"}, follow_redirects=True
            ) as response:
                total = (response.headers.get("content-range") or "").rpartition("/")[2]
                if response.status_code == 206 and total.isdigit():
                    size = int(total)
                name = name or _disposition_name(response.headers.get("content-disposition"))
            return size, name
        except httpx.TransportError as exc:
            raise TemporaryError(
                f"Premiumize download server: {type(exc).__name__}", retry_after=SIZE_WAIT
            ) from None


def _int(value: Any) -> int:
    """Sizes arrive as numbers or digit strings; anything else is unknown (0)."""
    return max(0, optional_int(value) or 0)


def _disposition_name(header: str | None) -> str:
    if not header:
        return ""
    message = Message()
    message["content-disposition"] = header
    return (message.get_filename() or "").rsplit("/", 1)[-1]


def _name_from_url(url: str, need_dot: bool = False) -> str:
    """The last path segment, without a hoster page's `.html`; with `need_dot`, only
    when it looks like a file name (a location may end in an opaque token)."""
    segment = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    if need_dot and "." not in segment:
        return ""
    return segment.removesuffix(".html").removesuffix(".htm") if not need_dot else segment
