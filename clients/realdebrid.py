"""Real-Debrid REST API 1.0 client (docs/providers.md, "Real-Debrid").

Typed results, pages with ETag/If-None-Match, and the service's error JSON
(`{"error": ..., "error_code": N}`) mapped to `clients.errors`. Every call goes
through the account's one `RateLimiter` (with priorities); 429 and error codes
5/34 pause all calls, honouring `Retry-After`. The token is sent as a Bearer
header only, never in a URL; OAuth access tokens are refreshed on 401/code 8.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio

from .codes import PERMANENT, REPAIR, USER, WAIT, Rule
from .errors import (
    AccountLocked,
    AuthError,
    FileUnavailable,
    InvalidName,
    NeedsRepair,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    RateLimited,
    RemoteError,
    TemporaryError,
    TooBig,
)
from .fields import optional_bool, optional_float, optional_int, optional_size, optional_timestamp
from .http import redact_url, retry_after_seconds
from .ratelimit import BACKGROUND, FOREGROUND, RateLimiter
from .retry import Backoff, Retrying, is_temporary

log = logging.getLogger(__name__)

PAGE_LIMIT = 2500
API_RETRIES = 5
RETRY_WAIT_MAX = 30.0  # a call waits through shorter waits itself; longer ones reach the caller
API_BACKOFF = Backoff(initial=1.0, maximum=RETRY_WAIT_MAX)
# "Too many requests" holds every call of the account off, longer than a 5xx
# (refused calls count against the limit too).
RATE_LIMIT_BACKOFF = Backoff(initial=5.0, maximum=RETRY_WAIT_MAX)
CONTENT_RANGE_RE = re.compile(r"bytes [\d*]+(?:-\d+)?/(\d+|\*)")
OAUTH_GRANT = "http://oauth.net/grant_type/device/1.0"
OPENSOURCE_CLIENT_ID = "X245A4XAIBGVM"


def parse_date(value: Any) -> float | None:
    """jsonDate ('2026-01-02T03:04:05.000Z', the document's) -> unix seconds; also
    other ISO forms and unix seconds (docs/providers.md, "Real-Debrid", Replies the
    documents leave open)."""
    return optional_timestamp(value)


# Fields of list items, torrent infos and unrestrict replies that are numbers in the
# document; a reply may carry them as strings, null or something unreadable (dropped:
# read as missing). `normalized` makes the raw items the sources keep say what they mean.
WHOLE_FIELDS = ("bytes", "original_bytes", "filesize", "chunks", "split", "speed", "seeders")
FLAG_FIELDS = ("crc", "streamable")


def normalized(item: dict[str, Any]) -> dict[str, Any]:
    """A raw reply item with its numbers as numbers and 0/1 flags as ints. An item
    already in the document's shape is returned as it is: this runs on every item
    of every list page, on the trio thread."""
    fixes: dict[str, Any] = {}
    for key in WHOLE_FIELDS:
        value = item.get(key)
        if value is not None and (type(value) is not int or value < 0):
            fixes[key] = optional_size(value)
    for key in FLAG_FIELDS:
        value = item.get(key)
        if value is not None and (type(value) is not int or value not in (0, 1)):
            flag = optional_bool(value)
            fixes[key] = None if flag is None else int(flag)
    progress = item.get("progress")
    if progress is not None and type(progress) not in (int, float):
        fixes["progress"] = optional_float(progress)
    links = item.get("links")
    if "links" in item and (type(links) is not list or not all(type(link) is str and link for link in links)):
        fixes["links"] = [str(link) for link in links if link] if isinstance(links, list) else []
    if "files" in item:  # torrents/info only: one item
        files = item["files"] if isinstance(item["files"], list) else []
        fixes["files"] = [
            _file(f) for f in files if isinstance(f, dict) and optional_int(f.get("id")) is not None
        ]
    if not fixes:
        return item
    out = {**item, **fixes}
    for key, value in fixes.items():
        if value is None:
            del out[key]  # unreadable: read as missing
    return out


def _file(data: dict[str, Any]) -> dict[str, Any]:
    return {
        **data,
        "id": optional_int(data.get("id")),
        "bytes": optional_size(data.get("bytes")) or 0,
        "selected": int(bool(optional_bool(data.get("selected")))),
    }


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
    def from_json(cls, data: dict[str, Any]) -> Download:
        return cls(
            id=str(data["id"]),
            filename=str(data.get("filename") or data["id"]),
            filesize=optional_size(data.get("filesize")) or 0,
            download=str(data.get("download") or ""),
            link=str(data.get("link") or ""),
            host=str(data.get("host") or ""),
            chunks=optional_int(data.get("chunks")) or 0,
            generated=parse_date(data.get("generated")),
        )


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
    def from_json(cls, data: dict[str, Any]) -> Torrent:
        return cls(
            id=str(data["id"]),
            filename=str(data.get("filename") or data["id"]),
            status=str(data.get("status") or ""),
            bytes=optional_size(data.get("bytes")) or 0,
            progress=optional_float(data.get("progress")) or 0.0,
            added=parse_date(data.get("added")),
            ended=parse_date(data.get("ended")),
            links=tuple(data.get("links") or ()),  # strings: `normalized` saw to it
            hash=str(data.get("hash") or ""),
        )


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
    def from_json(cls, data: dict[str, Any]) -> TorrentInfo:
        files = tuple(
            TorrentFile(
                id=int(f["id"]),
                path=str(f.get("path") or f"/{f['id']}"),
                bytes=int(f["bytes"]),
                selected=bool(f["selected"]),
            )
            for f in normalized(data).get("files") or ()
        )
        return cls(torrent=Torrent.from_json(data), files=files)

    @property
    def links_match_files(self) -> bool:
        """Whether `links[i]` is the i-th selected file (providers.md,
        "Real-Debrid", Torrents). When the counts differ, RD packed the
        selection into an archive (or split it): a link may then be anything,
        and no link may be paired with a file."""
        return len(self.torrent.links) == sum(1 for f in self.files if f.selected)

    def selected_files_with_links(self) -> list[tuple[TorrentFile, str]]:
        """The n-th selected file goes with the n-th link; nothing when the
        counts differ (see `links_match_files`)."""
        if not self.links_match_files:
            return []
        return list(zip([f for f in self.files if f.selected], self.torrent.links, strict=True))


@dataclass(frozen=True)
class UnrestrictedLink:
    id: str
    filename: str
    filesize: int
    download: str = field(repr=False)
    chunks: int = 0


def _text(data: Mapping[str, Any], key: str) -> str | None:
    """A string field the document leaves open: None when missing, null or empty."""
    value = data.get(key)
    return str(value) if value is not None and value != "" else None


def _needed(data: Mapping[str, Any], key: str, what: str) -> str:
    """A field without which the reply is useless: a clear error, not a KeyError."""
    value = _text(data, key)
    if value is None:
        raise RemoteError(f"Real-Debrid {what}: the reply has no {key}")
    return value


@dataclass(frozen=True)
class User:
    """`/user` (docs/providers.md, Real-Debrid "/user"); any field may be missing or null."""

    id: str | None
    username: str | None
    type: str | None  # "premium" or "free"
    expiration: float | None  # unix seconds
    premium: int | None  # seconds of premium left

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> User:
        return cls(
            id=_text(data, "id"),
            username=_text(data, "username"),
            type=_text(data, "type"),
            expiration=parse_date(data.get("expiration")),
            premium=optional_int(data.get("premium")),
        )


@dataclass(frozen=True)
class LinkCheck:
    """`/unrestrict/check`: what the hoster says of a link (the schema is not in the document)."""

    filename: str | None
    filesize: int | None
    host: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LinkCheck:
        return cls(
            filename=_text(data, "filename"),
            filesize=optional_int(data.get("filesize")),
            host=_text(data, "host"),
        )


@dataclass(frozen=True)
class DeviceCode:
    """`/oauth/v2/device/code` (docs/providers.md, Real-Debrid "OAuth device flow")."""

    device_code: str = field(repr=False)
    user_code: str
    verification_url: str
    interval: float  # seconds between polls
    expires_in: float | None  # seconds

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeviceCode:
        what = "device code"
        interval = optional_int(data.get("interval"))
        expires_in = optional_int(data.get("expires_in"))
        return cls(
            device_code=_needed(data, "device_code", what),
            user_code=_needed(data, "user_code", what),
            verification_url=_needed(data, "verification_url", what),
            interval=float(interval) if interval is not None and interval > 0 else 5.0,
            expires_in=float(expires_in) if expires_in is not None and expires_in > 0 else None,
        )


@dataclass(frozen=True)
class AppCredentials:
    """`/oauth/v2/device/credentials` once approved: the app's own id and secret."""

    client_id: str
    client_secret: str = field(repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AppCredentials:
        what = "device credentials"
        return cls(_needed(data, "client_id", what), _needed(data, "client_secret", what))


@dataclass(frozen=True)
class Tokens:
    """`/oauth/v2/token`: an access token, and a refresh token when one is given."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in: int | None  # seconds

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tokens:
        return cls(
            access_token=_needed(data, "access_token", "token"),
            refresh_token=_text(data, "refresh_token"),
            expires_in=optional_int(data.get("expires_in")),
        )


@dataclass
class Page:
    """One page of a list: `items` None means 304 (unchanged since `etag`);
    `total` is X-Total-Count, None when the reply did not carry it."""

    items: list[dict[str, Any]] | None
    total: int | None
    etag: str | None


def proven_complete(pages: list[Page], count: int) -> bool:
    """Whether a listing read front to back without error holds everything:
    every page carried the same X-Total-Count and it matches what was read.

    Nothing less may remove an entry (docs/invariants.md): a 304, a 204, `[]`,
    a page without the header or a page that came up short prove nothing
    (providers.md, "Real-Debrid", Lists: RD has served an empty page for every
    page of an account with 1,024 torrents). An empty listing proves nothing
    either.
    """
    totals = {page.total for page in pages}
    return len(totals) == 1 and None not in totals and count == totals.pop() and count > 0


def _object(response: httpx.Response) -> dict[str, Any]:
    """The reply's JSON object (these endpoints document one); anything else,
    such as a maintenance page served with 200, is a temporary failure."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise TemporaryError(f"Real-Debrid {response.request.url.path}: the reply is not a JSON object")
    return data


def _total(response: httpx.Response) -> int | None:
    try:
        return int(response.headers["x-total-count"])
    except (KeyError, ValueError):
        return None


# What each documented error code means to us: one `Rule` per code (clients/codes.py),
# applied by `error_for`. Sources use the labels of docs/providers.md (doc, seen,
# clients, one source, ours), whose "Real-Debrid" Error codes table restates the facts.
ERROR_TABLE: dict[int, Rule] = {
    -1: Rule(WAIT, TemporaryError, "internal error (5xx)", None, "doc"),
    1: Rule(PERMANENT, RemoteError, "missing parameter", None, "doc; seen: parameter_missing, 400"),
    2: Rule(PERMANENT, InvalidName, "bad parameter value", None, "doc; one source: bad_parameter, 400"),
    3: Rule(PERMANENT, RemoteError, "unknown method", None, "doc"),
    4: Rule(PERMANENT, RemoteError, "method not allowed", None, "doc"),
    5: Rule(WAIT, RateLimited, "slow down", None, "doc; ours: like 34"),
    6: Rule(WAIT, TemporaryError, "resource unreachable", 60, "doc; ours: 60 s"),
    7: Rule(PERMANENT, NotFound, "resource not found", None, "doc; seen: an unknown id answers 404"),
    8: Rule(USER, AuthError, "bad token", None, "doc; clients: refresh an OAuth token once, then the user"),
    9: Rule(USER, PermissionDenied, "permission denied", None, "doc; one source: permission_denied, 403"),
    10: Rule(USER, AuthError, "two-factor authentication needed", None, "doc"),
    11: Rule(USER, AuthError, "two-factor authentication pending", None, "doc"),
    12: Rule(USER, AuthError, "invalid login", None, "doc"),
    13: Rule(USER, AuthError, "invalid password", None, "doc"),
    14: Rule(USER, AccountLocked, "account locked", None, "doc: 403"),
    15: Rule(USER, AuthError, "account not activated", None, "doc"),
    16: Rule(PERMANENT, RemoteError, "unsupported hoster", None, "doc"),
    17: Rule(WAIT, TemporaryError, "hoster in maintenance", 300, "doc; clients: host off 5 min"),
    18: Rule(WAIT, TemporaryError, "hoster limit reached", 300, "doc; clients: host off 5 min"),
    19: Rule(
        REPAIR,
        NeedsRepair,
        "hoster unavailable: on a torrent link only adding the torrent again helps",
        None,
        "seen: 503 hoster_unavailable, three logs",
    ),
    20: Rule(USER, PermissionDenied, "hoster not available for free users", None, "doc"),
    21: Rule(WAIT, TemporaryError, "too many active downloads", 300, "doc; ours: 5 min"),
    22: Rule(
        USER, PermissionDenied, "IP address not allowed", None, "doc; clients: JDownloader waits 60 min"
    ),
    23: Rule(USER, QuotaExceeded, "traffic exhausted", 300, "doc; clients: asked again after 5 min"),
    24: Rule(
        WAIT,
        FileUnavailable,
        "file unavailable: offline for now",
        600,
        "doc; clients: offline, asked again after 10 min",
    ),
    25: Rule(WAIT, TemporaryError, "service unavailable", None, "doc; seen: 503 from selectFiles"),
    26: Rule(PERMANENT, TooBig, "upload too big", None, "doc"),
    27: Rule(WAIT, TemporaryError, "upload error", None, "doc"),
    28: Rule(PERMANENT, InvalidName, "file not allowed", None, "doc"),
    29: Rule(PERMANENT, TooBig, "torrent too big", None, "doc"),
    30: Rule(PERMANENT, InvalidName, "torrent file invalid", None, "doc"),
    31: Rule(
        PERMANENT, RemoteError, "action already done", None, "doc: 202; selectFiles takes it as success"
    ),
    32: Rule(PERMANENT, RemoteError, "image resolution error", None, "doc"),
    33: Rule(PERMANENT, RemoteError, "torrent already active", None, "doc"),
    34: Rule(WAIT, RateLimited, "too many requests", None, "doc: 429; every call of the account holds off"),
    35: Rule(PERMANENT, FileUnavailable, "infringing file", None, "seen: 451; clients: never again"),
    36: Rule(WAIT, TemporaryError, "fair usage limit", 1800, "doc; clients: JDownloader waits 30 min"),
    37: Rule(PERMANENT, RemoteError, "disabled endpoint", None, "seen: 403 on instantAvailability"),
}


def error_for(
    path: str, status: int, name: str, code: int | None, retry_after: float | None = None
) -> RemoteError:
    """The typed error for one failed reply: by `error_code` when the table
    knows it, else by HTTP status (providers.md, "Real-Debrid", Error codes:
    JDownloader treats an unknown code on a 403 as a bad token; we say
    permission denied)."""
    message = f"Real-Debrid {path}: {name or 'HTTP ' + str(status)}" + (
        f" (code {code})" if code is not None else ""
    )
    kw: dict[str, Any] = {"code": code, "status": status}
    rule = ERROR_TABLE.get(code) if code is not None else None
    if rule is not None:
        if rule.kind is AuthError:
            message = f"Real-Debrid rejected the API token ({name or 'bad_token'}, HTTP {status})"
        elif rule.kind is AccountLocked:
            message = "Real-Debrid account is locked (HTTP 403)"
        return rule.error(message, retry_after=retry_after, **kw)
    if status == 401:
        return AuthError(f"Real-Debrid rejected the API token (HTTP {status})", **kw)
    if status == 429:
        return RateLimited(message, retry_after=retry_after, **kw)
    if status == 451:
        return FileUnavailable(message, **kw)
    if status == 403:
        return PermissionDenied(message, **kw)
    if status == 404:
        return NotFound(message, **kw)
    if status >= 500:
        return TemporaryError(message, retry_after=retry_after, **kw)
    return RemoteError(message, **kw)


def oauth_url_for(api_url: str) -> str:
    """`.../rest/1.0` -> `.../oauth/v2` (the OAuth base sits next to the REST base)."""
    base = api_url.rstrip("/")
    if base.endswith("/rest/1.0"):
        base = base[: -len("/rest/1.0")]
    return base + "/oauth/v2"


class Credentials:
    """A private API token: static, nothing to refresh."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    async def token(self, client: RealDebridClient) -> str:
        return self._token

    async def refresh(self, client: RealDebridClient, used: str) -> bool:
        return False


class OAuthCredentials(Credentials):
    """Client id/secret + refresh token from `debridfs login realdebrid`.

    The access token is fetched on first use and again whenever the API says
    it is bad (401 / code 8): the user never notices an expiry.
    """

    def __init__(self, client_id: str, client_secret: str, refresh_token: str) -> None:
        super().__init__("")
        self.client_id = client_id
        self._secret = client_secret
        self._refresh = refresh_token
        self._lock = trio.Lock()

    async def token(self, client: RealDebridClient) -> str:
        if not self._token:
            await self.refresh(client, "")
        return self._token

    async def refresh(self, client: RealDebridClient, used: str) -> bool:
        async with self._lock:
            if self._token and self._token != used:
                return True  # someone else refreshed while we waited
            tokens = await client.oauth_token(self.client_id, self._secret, self._refresh)
            self._token = tokens.access_token
            if tokens.refresh_token:
                self._refresh = tokens.refresh_token
            log.info("Real-Debrid: access token refreshed (valid %ss)", tokens.expires_in or "?")
            return True


class RealDebridClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        api_url: str,
        credentials: Credentials | str,
        limiter: RateLimiter | None = None,
        oauth_url: str | None = None,
    ) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self.oauth_url = (oauth_url or oauth_url_for(self.api_url)).rstrip("/")
        self.credentials = Credentials(credentials) if isinstance(credentials, str) else credentials
        self.limiter = limiter or RateLimiter(250)

    def __repr__(self) -> str:
        return f"RealDebridClient({self.api_url!r})"

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        priority: int = BACKGROUND,
        auth: bool = True,
        base: str | None = None,
    ) -> httpx.Response:
        """One API call through the limiter, retried on 429/5xx, errors mapped."""
        refreshed = False
        retrying = Retrying(backoff=API_BACKOFF, attempts=API_RETRIES, longest_wait=RETRY_WAIT_MAX)
        while True:
            all_headers = dict(headers or {})
            token = ""
            if auth:
                token = await self.credentials.token(self)
                all_headers["Authorization"] = f"Bearer {token}"
            await self.limiter.acquire(priority)
            try:
                response = await self.http.request(
                    method,
                    (base or self.api_url) + path,
                    params=params,
                    data=data,
                    content=content,
                    headers=all_headers,
                )
            except httpx.TransportError as exc:
                error: RemoteError = TemporaryError(f"Real-Debrid {path}: {type(exc).__name__}")
            else:
                if response.status_code < 400 or response.status_code == 304:
                    return response
                error = self._error(path, response)
            if (
                isinstance(error, AuthError)
                and not isinstance(error, AccountLocked)
                and auth
                and not refreshed
                and await self.credentials.refresh(self, token)
            ):
                refreshed = True
                continue
            if not is_temporary(error):
                raise error
            if isinstance(error, RateLimited):
                # Every caller holds off, not just this one: the limiter waits for us.
                self.limiter.pause(retrying.delay_for(error, RATE_LIMIT_BACKOFF))
                log.info("Real-Debrid %s: %s; backing off", path, error)
            else:
                wait = retrying.delay_for(error)
                log.info("Real-Debrid %s: %s; retrying in %.1fs", path, error, wait)
                await trio.sleep(wait)

    @staticmethod
    def _error(path: str, response: httpx.Response) -> RemoteError:
        status = response.status_code
        try:
            body = response.json()
            name, code = str(body.get("error") or ""), optional_int(body.get("error_code"))
        except (ValueError, AttributeError):
            name, code = response.text[:80], None
        return error_for(path, status, name, code, retry_after_seconds(response))

    # --- account

    async def user(self) -> User:
        return User.from_json(_object(await self.request("GET", "/user", priority=FOREGROUND)))

    async def oauth_token(self, client_id: str, client_secret: str, code: str) -> Tokens:
        response = await self.request(
            "POST",
            "/token",
            auth=False,
            base=self.oauth_url,
            priority=FOREGROUND,
            data={
                "client_id": client_id,
                "client_secret": client_secret,
                "code": code,
                "grant_type": OAUTH_GRANT,
            },
        )
        return Tokens.from_json(_object(response))

    # --- OAuth device flow for open-source apps (providers.md, "Real-Debrid", OAuth device flow)

    async def device_code(self) -> DeviceCode:
        response = await self.request(
            "GET",
            "/device/code",
            auth=False,
            base=self.oauth_url,
            params={"client_id": OPENSOURCE_CLIENT_ID, "new_credentials": "yes"},
            priority=FOREGROUND,
        )
        return DeviceCode.from_json(_object(response))

    async def device_credentials(self, device_code: str) -> AppCredentials | None:
        """The app's client id/secret once the user approved; None until then
        (the service answers 403 while it waits)."""
        try:
            response = await self.request(
                "GET",
                "/device/credentials",
                auth=False,
                base=self.oauth_url,
                params={"client_id": OPENSOURCE_CLIENT_ID, "code": device_code},
                priority=FOREGROUND,
            )
        except PermissionDenied:
            return None
        return AppCredentials.from_json(_object(response))

    # --- lists

    async def page(
        self,
        path: str,
        offset: int,
        limit: int = PAGE_LIMIT,
        etag: str | None = None,
        priority: int = BACKGROUND,
    ) -> Page:
        headers = {"If-None-Match": etag} if etag else None
        response = await self.request(
            "GET", path, params={"offset": offset, "limit": limit}, headers=headers, priority=priority
        )
        if response.status_code == 304:
            return Page(None, _total(response), etag)
        try:
            items = [] if response.status_code == 204 or not response.content.strip() else response.json()
        except ValueError:
            raise TemporaryError(f"Real-Debrid {path}: the reply is not JSON") from None
        if items is None or items == {}:
            items = []  # an empty page said otherwise; it proves nothing either way
        if not isinstance(items, list):
            raise TemporaryError(f"Real-Debrid {path}: the reply is not a list")
        rows = [normalized(item) for item in items if isinstance(item, dict) and item.get("id")]
        return Page(rows, _total(response), response.headers.get("etag"))

    async def torrent_info_json(self, torrent_id: str, priority: int = BACKGROUND) -> dict[str, Any]:
        return normalized(
            _object(await self.request("GET", f"/torrents/info/{torrent_id}", priority=priority))
        )

    async def torrent_info(self, torrent_id: str, priority: int = BACKGROUND) -> TorrentInfo:
        return TorrentInfo.from_json(await self.torrent_info_json(torrent_id, priority))

    # --- links

    async def unrestrict_check(self, link: str) -> LinkCheck:
        return LinkCheck.from_json(
            _object(await self.request("POST", "/unrestrict/check", data={"link": link}, priority=FOREGROUND))
        )

    async def unrestrict_link_json(self, link: str, priority: int = FOREGROUND) -> dict[str, Any]:
        data = normalized(
            _object(await self.request("POST", "/unrestrict/link", data={"link": link}, priority=priority))
        )
        _needed(data, "download", "unrestrict/link")
        return data

    async def unrestrict_link(self, link: str, priority: int = FOREGROUND) -> UnrestrictedLink:
        data = await self.unrestrict_link_json(link, priority)
        return UnrestrictedLink(
            id=str(data.get("id") or ""),
            filename=str(data.get("filename") or ""),
            filesize=data.get("filesize") or 0,
            download=str(data["download"]),
            chunks=data.get("chunks") or 0,
        )

    async def probe_size(self, url: str) -> int | None:
        """The size of a direct link whose `filesize` the API gave as 0
        ("unknown" in the doc): HEAD's Content-Length, else the total of
        `Content-Range` for the first byte. None when neither says."""
        try:
            response = await self.http.head(url)
            if response.status_code == 200 and response.headers.get("content-length", "").isdigit():
                return int(response.headers["content-length"])
            async with self.http.stream("GET", url, headers={"Range": "bytes=0-0"}) as response:
                match = CONTENT_RANGE_RE.match(response.headers.get("content-range", ""))
                if response.status_code == 206 and match and match.group(1).isdigit():
                    return int(match.group(1))
                if response.status_code == 416 and response.headers.get("content-range") == "bytes */0":
                    return 0
        except httpx.TransportError as exc:
            log.info("Real-Debrid: size of %s: %s", redact_url(url), type(exc).__name__)
            return None
        log.info("Real-Debrid: %s did not say its size", redact_url(url))
        return None

    # --- writes

    async def add_magnet(self, magnet: str, priority: int = FOREGROUND) -> str:
        response = await self.request(
            "POST", "/torrents/addMagnet", data={"magnet": magnet}, priority=priority
        )
        return _needed(_object(response), "id", "addMagnet")

    async def add_torrent(self, data: bytes) -> str:
        response = await self.request(
            "PUT",
            "/torrents/addTorrent",
            content=data,
            headers={"Content-Type": "application/x-bittorrent"},
            priority=FOREGROUND,
        )
        return _needed(_object(response), "id", "addTorrent")

    async def select_files(self, torrent_id: str, files: str = "all") -> None:
        try:
            await self.request("POST", f"/torrents/selectFiles/{torrent_id}", data={"files": files})
        except RemoteError as exc:
            if exc.code == 31:  # action already done
                return
            raise

    async def delete_torrent(self, torrent_id: str) -> None:
        await self.request("DELETE", f"/torrents/delete/{torrent_id}", priority=FOREGROUND)

    async def delete_download(self, download_id: str) -> None:
        await self.request("DELETE", f"/downloads/delete/{download_id}", priority=FOREGROUND)
