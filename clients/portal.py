"""Portal external API v1 client (docs/providers.md, "Portal").

The API key goes in `Authorization: Bearer`, never in a URL. Errors are
`{"success": false, "status": N, "msg": ..., "retry_in_seconds": S}`; every
documented status has a rule in `STATUSES`. A call that the portal asks to
retry is retried only when its wait is short (`max_retry_wait`); longer waits
are raised with `retry_after` so the caller records them instead of blocking.

Reply shapes the document leaves open, all accepted: `filesize` as a digit
string (the document), a number, or missing/null while the portal has not
fetched the file yet (`size` None: unknown, never 0); an `/unrestrict` reply
without `linkId`/`download_ready` (the v1.0 shape in the changelog: the link
is ready at once); no `/hosts/grouped` (added in a later version): `/hosts`,
one row per domain, instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio

from .codes import PERMANENT, USER, WAIT, Rule
from .errors import (
    AuthError,
    FileUnavailable,
    NotFound,
    PermissionDenied,
    RateLimited,
    RemoteError,
    TemporaryError,
)
from .fields import optional_bool, optional_float, optional_int
from .http import retry_after_seconds
from .retry import Backoff, Retrying, is_temporary

log = logging.getLogger(__name__)

API_RETRIES = 2
API_BACKOFF = Backoff(initial=1.0, maximum=4.0)
DOC = 'doc; providers.md, "Portal", Errors'
# status -> rule: the document's table (status, HTTP, meaning). Waits are used when the
# reply has no `retry_in_seconds` ("present only when a retry makes sense").
STATUSES: dict[int, Rule] = {
    1: Rule(USER, AuthError, "missing or invalid API key", None, f"{DOC}: 1 / 401"),
    2: Rule(USER, AuthError, "account not usable", None, f"{DOC}: 2 / 403"),
    # Traffic comes back (daily caps, purchases); the file is fine.
    52: Rule(WAIT, RateLimited, "insufficient traffic for this file", 3600, f"{DOC}: 52 / 402"),
    54: Rule(WAIT, RateLimited, "per-host 24h usage limit exceeded", 3600, f"{DOC}: 54 / 429"),
    55: Rule(WAIT, RateLimited, "too many concurrent downloads on this platform", 60, f"{DOC}: 55 / 429"),
    56: Rule(WAIT, RateLimited, "solo / low-speed slot limit reached", 60, f"{DOC}: 56 / 429"),
    101: Rule(PERMANENT, FileUnavailable, "unsupported URL or host", None, f"{DOC}: 101 / 400"),
    102: Rule(PERMANENT, FileUnavailable, "source / file banned", None, f"{DOC}: 102 / 403"),
    103: Rule(
        PERMANENT, PermissionDenied, "private file / payment to uploader required", None, f"{DOC}: 103 / 400"
    ),
    104: Rule(PERMANENT, FileUnavailable, "file offline or not found", None, f"{DOC}: 104 / 404"),
    105: Rule(
        WAIT, TemporaryError, "service maintenance / upstream unavailable", 300, f"{DOC}: 105 / 503 (retry)"
    ),
    # No time given: retried at once (twice), then the link layer's backoff.
    106: Rule(WAIT, TemporaryError, "upstream / generic external error", None, f"{DOC}: 106 / any"),
    107: Rule(
        WAIT,
        RateLimited,
        "server-side traffic / account pool insufficient",
        120,
        f"{DOC}: 107 / 429, retry_in_seconds e.g. 120",
    ),
    900: Rule(PERMANENT, RemoteError, "validation / bad request", None, f"{DOC}: 900 / 400"),
    999: Rule(WAIT, TemporaryError, "internal error", None, f"{DOC}: 999 / 500"),
}
# No status in the body (a proxy's page): by the HTTP code.
HTTP_5XX = Rule(WAIT, TemporaryError, "server error", None, "HTTP 5xx / 429 without a portal status")
HTTP_4XX = Rule(PERMANENT, RemoteError, "refused", None, "HTTP 4xx without a portal status")


def _size(value: Any) -> int | None:
    """`filesize` is a digit string in the document, a number from some servers, and
    missing or empty before the portal knows it: None then (unknown, not 0)."""
    size = optional_int(value)
    return size if size is not None and size > 0 else None


@dataclass(frozen=True)
class PortalLink:
    link_id: str  # "" for a portal that answers without linkIds (v1.0)
    ready: bool
    remote_status: str
    filename: str
    filesize: int | None
    maxchunks: int | None
    poll_after: float
    reused: bool = False
    link: str | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PortalLink:
        link = str(data["link"]) if data.get("link") else None
        # v1.0 had no download_ready: a reply with a link was a usable link.
        said = optional_bool(data.get("download_ready"))
        ready = said if said is not None else link is not None
        poll_after = optional_float(data.get("poll_after_seconds"))
        return cls(
            link_id=str(data.get("linkId") or ""),
            ready=ready and link is not None,
            remote_status=str(data.get("remote_status") or ("done" if ready else "")).lower(),
            filename=str(data.get("filename") or ""),
            filesize=_size(data.get("filesize")),
            maxchunks=_size(data.get("maxchunks")),
            poll_after=poll_after if poll_after is not None and poll_after > 0 else 2.0,
            reused=bool(optional_bool(data.get("reusedExisting"))),
            link=link,
        )


@dataclass(frozen=True)
class PortalAccount:
    """`/account`: every field may be missing or null (`timeleft` null is unlimited)."""

    account_type: str | None
    traffic_left: int | None  # bytes
    traffic_max: int | None  # bytes
    time_left: float | None  # seconds; None: unlimited (or not said)
    check_interval: float | None  # seconds (the document gives milliseconds)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PortalAccount:
        def whole(name: str) -> int | None:
            return optional_int(data.get(name))

        interval = optional_float(data.get("login_check_interval"))
        return cls(
            account_type=str(data["accountType"]) if data.get("accountType") else None,
            traffic_left=whole("trafficleft"),
            traffic_max=whole("trafficmax"),
            time_left=optional_float(data.get("timeleft")),
            check_interval=interval / 1000 if interval is not None and interval > 0 else None,
        )


@dataclass(frozen=True)
class PortalHost:
    platform: str
    domains: tuple[str, ...]
    max_chunks: int | None
    working: bool


class PortalClient:
    def __init__(
        self, http: httpx.AsyncClient, api_url: str, api_key: str, max_retry_wait: float = 5.0
    ) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self._key = api_key
        self.max_retry_wait = max_retry_wait

    def __repr__(self) -> str:
        return f"PortalClient({self.api_url!r})"

    async def request(self, method: str, path: str, *, json: Any = None) -> dict[str, Any]:
        """One call; the `data` object of a success. Short retries only."""
        retrying = Retrying(backoff=API_BACKOFF, attempts=API_RETRIES, longest_wait=self.max_retry_wait)
        while True:
            try:
                response = await self.http.request(
                    method, self.api_url + path, json=json, headers={"Authorization": f"Bearer {self._key}"}
                )
            except httpx.TransportError as exc:
                error: RemoteError = TemporaryError(f"portal {path}: {type(exc).__name__}")
            else:
                body = _json(response)
                if response.status_code < 400 and optional_bool(body.get("success")) is not False:
                    data = body.get("data")
                    return data if isinstance(data, dict) else {}
                error = self.error(path, response, body)
            if not is_temporary(error):
                raise error
            # Longer waits than max_retry_wait are raised: the caller records them.
            wait = retrying.delay_for(error)
            log.info("portal %s: %s; retrying in %.1fs", path, error, wait)
            await trio.sleep(wait)

    @staticmethod
    def error(path: str, response: httpx.Response, body: dict[str, Any]) -> RemoteError:
        status = optional_int(body.get("status"))
        retry = optional_float(body.get("retry_in_seconds"))
        retry_after = retry if retry is not None and retry >= 0 else retry_after_seconds(response)
        http = response.status_code
        rule = STATUSES.get(status) if status is not None else None
        if rule is None:
            rule = HTTP_5XX if http >= 500 or http == 429 else HTTP_4XX
            meaning = f"HTTP {http}"
        else:
            meaning = rule.text
        message = f"portal status {status}: {meaning}" if status is not None else f"portal {path}: {meaning}"
        if (path.startswith("/link/") and status == 104) or (status is None and http == 404):
            # The linkId (or the endpoint) is gone: the caller unrestricts again (or falls back).
            return NotFound(message, code=status, status=http)
        if rule.meaning == WAIT:
            retry_after = retry_after if retry_after is not None else rule.wait
            if retry_after is not None:
                message += f" (retry in {retry_after:.0f}s)"
        return rule.error(message, retry_after=retry_after, code=status, status=http)

    async def account(self) -> PortalAccount:
        return PortalAccount.from_json(await self.request("GET", "/account"))

    async def hosts_grouped(self) -> list[PortalHost]:
        """One row per service; a portal without `/hosts/grouped` gives one per domain."""
        try:
            data = await self.request("GET", "/hosts/grouped")
        except NotFound:
            log.info("portal: no /hosts/grouped (an older portal); using /hosts")
            data = await self.request("GET", "/hosts")
        hosts = []
        for row in data.get("supportedhosts") or ():
            domains = tuple(row.get("domains") or ([row["host"]] if row.get("host") else []))
            hosts.append(
                PortalHost(
                    platform=str(row.get("platform") or row.get("host") or "?"),
                    domains=domains,
                    max_chunks=_size(row.get("maxChunks")),
                    working=optional_bool(row.get("currently_working")) is not False,
                )
            )
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
