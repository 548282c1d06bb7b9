"""The one shared httpx client, and the ranged GET that every read uses.

`open_range` classifies failures into the error vocabulary: responses that
expired direct links give (403, 404, 410, 503, or 200 to a ranged request)
become `LinkExpired`, so the reader re-resolves the link once.
"""

from __future__ import annotations

import logging
import re
from contextlib import asynccontextmanager
from typing import AsyncIterator

import httpx

from .errors import LinkExpired, RateLimited, RemoteError, TemporaryError

log = logging.getLogger(__name__)

USER_AGENT = "debridfs/0.1"
EXPIRED_STATUSES = {403, 404, 410, 503}
CONTENT_RANGE_RE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def make_http_client(max_connections: int = 64) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        http1=True,
        limits=httpx.Limits(max_connections=max_connections,
                            max_keepalive_connections=max_connections,
                            keepalive_expiry=30),
        timeout=httpx.Timeout(30.0, connect=10.0),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=True,
    )


def redact_url(url: str | httpx.URL) -> str:
    """Scheme, host and path only: query strings may carry credentials."""
    parsed = httpx.URL(str(url))
    return f"{parsed.scheme}://{parsed.host}{':' + str(parsed.port) if parsed.port else ''}{parsed.path}"


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


@asynccontextmanager
async def open_range(http: httpx.AsyncClient, url: str, start: int, end: int,
                     size: int | None = None) -> AsyncIterator[httpx.Response]:
    """Opens a GET of bytes [start, end) and yields the streaming response.

    The caller iterates `response.aiter_raw()`. Raises `LinkExpired`,
    `RateLimited`, `TemporaryError` or `RemoteError` before yielding.
    """
    headers = {"Range": f"bytes={start}-{end - 1}", "Accept-Encoding": "identity"}
    request = http.build_request("GET", url, headers=headers)
    try:
        response = await http.send(request, stream=True)
    except httpx.TransportError as exc:
        raise TemporaryError(f"connection to {redact_url(url)} failed: {type(exc).__name__}") from None
    try:
        _check_range_response(response, url, start, end, size)
        yield response
    finally:
        await response.aclose()


def _check_range_response(response: httpx.Response, url: str, start: int, end: int,
                          size: int | None) -> None:
    status = response.status_code
    where = redact_url(url)
    if status == 206:
        match = CONTENT_RANGE_RE.match(response.headers.get("content-range", ""))
        if not match or int(match.group(1)) != start or int(match.group(2)) < start:
            raise TemporaryError(f"{where}: wrong Content-Range {response.headers.get('content-range')!r}")
        if size is not None and match.group(3) != "*" and int(match.group(3)) != size:
            raise LinkExpired(f"{where}: file size changed to {match.group(3)}", status=status)
        return
    if status == 200:
        whole = start == 0 and size is not None and end >= size
        if whole:
            return
        raise LinkExpired(f"{where}: server ignored the range request", status=status)
    if status in EXPIRED_STATUSES:
        raise LinkExpired(f"{where}: HTTP {status}", status=status)
    if status == 429:
        raise RateLimited(f"{where}: HTTP 429", retry_after=retry_after_seconds(response), status=status)
    if status == 416:
        raise RemoteError(f"{where}: range {start}-{end - 1} not satisfiable", status=status)
    if status >= 500:
        raise TemporaryError(f"{where}: HTTP {status}", retry_after=retry_after_seconds(response),
                             status=status)
    raise RemoteError(f"{where}: HTTP {status}", status=status)
